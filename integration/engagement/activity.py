"""Per-contact engagement state, kept up to date one event at a time.

The pipeline stores one `ContactActivity` per contact (as the small JSON dict of `to_dict`) and
calls `apply(event)` as events arrive, so scoring never re-reads the event log.

Three parts, one responsibility each:

* **email records** (email_record.py): per email, what happened to it - flags, delivery time, its
  opens (by second) and clicks (by second and link). An event already in the record changes
  nothing, so `apply` is idempotent by the event's natural key (which is what `event_id` is
  derived from; two events with different ids but the same email, type, second and link are one
  event).
* **the ledger** (ledger.py): the aggregates scoring and metrics read. Everything derived from an
  email - human or machine, counted where - is recomputed from its record whenever the record
  changes (`EmailRecord.contribution`), and the old contribution swapped for the new one in the
  ledger. The result is a function of the set of events, not their order.
* **this class**: routes events to records, keeps the email status and the campaign rows (5.4),
  and folds old detail away. Records of emails older than `retention_days` before the newest
  event are folded: their counts stay in the ledger's counters and their campaign row stays, but
  a webhook for them that arrives later than that is ignored (it can no longer be told apart
  from one already counted).
"""
from __future__ import annotations

from typing import Any

from .content import DEFAULT_CONTENT_RULES, ContentRules
from .email_record import DAY, K_SENT_TS, LAZY, EmailRecord, campaign_status, record_from_row, record_to_row, url_key
from .events import EngagementEvent
from .ledger import Ledger
from .machine import DEFAULT_MACHINE_RULES, MachineRules

__all__ = ["DAY", "EMAIL_STATUSES", "RETENTION_DAYS", "ContactActivity", "url_key"]

SCHEMA_VERSION = 1
RETENTION_DAYS = 120
#: Folding old detail away runs at most once per this many days of horizon movement.
FOLD_EVERY_DAYS = 7

#: Email status, in precedence order: a stronger status is never undone by a weaker one.
EMAIL_STATUSES = ("subscribed", "bounced", "unsubscribed", "complained")


class ContactActivity:
    """Incrementally maintained engagement state of one contact (see module docstring).

    Kept whole: routing, folding, the lazily restored records and the stored form guard the same
    invariant: what is folded away from the records
    is folded away from the stored JSON and the ledger at the same moment.
    """

    __slots__ = ("contact_id", "ledger", "campaigns", "_sends", "_raw_sends", "status", "status_at",
                 "horizon_day", "_folded_to", "ignored_late", "retention_days", "machine_rules", "content_rules")

    def __init__(self, contact_id: str | None = None, *, retention_days: int = RETENTION_DAYS,
                 machine_rules: MachineRules = DEFAULT_MACHINE_RULES,
                 content_rules: ContentRules = DEFAULT_CONTENT_RULES) -> None:
        self.contact_id = contact_id
        self.ledger = Ledger()
        self.campaigns: dict[str, list] = {}                  # id -> [name, sent ts, status code, email id]
        self._sends: dict[str, EmailRecord] = {}
        self._raw_sends: dict[str, list] | None = None  # restored from JSON, not yet needed
        self.status = 0
        self.status_at: int | None = None
        self.horizon_day: int | None = None
        self._folded_to: int | None = None
        self.ignored_late = 0
        self.retention_days = retention_days
        self.machine_rules = machine_rules
        self.content_rules = content_rules

    # ------------------------------------------------------------------ apply

    def apply(self, event: EngagementEvent) -> bool:
        """Fold one event in; True when anything changed (False for a duplicate or a late one)."""
        if self.contact_id is None:
            self.contact_id = event.contact_id
        ts = int(event.occurred_at.timestamp())
        etype = event.event_type
        if etype == "unsubscribed" or etype == "complained" or (etype == "bounced" and event.bounce_type == "hard"):
            changed = self._set_status(etype, ts)
            if event.email_id is None:  # a preference-centre unsubscribe belongs to no email
                return changed
        elif event.email_id is None:
            return False
        day = ts // DAY
        send = self.sends.get(event.email_id)
        if send is None:
            if self._too_late(event, day):
                self.ignored_late += 1
                return False
            send = self.sends[event.email_id] = EmailRecord(event.email_id)
        if send.contrib is LAZY:  # the old contribution must be known before the record changes
            send.contrib = send.contribution(self.machine_rules)
        if not send.record(event, ts, self.machine_rules, self.content_rules):
            return False
        self._refresh(send)
        if self.horizon_day is None or day > self.horizon_day:
            self.horizon_day = day
            if self._folded_to is None or day - self.retention_days >= self._folded_to + FOLD_EVERY_DAYS:
                self._fold(day - self.retention_days)
        return True

    def _too_late(self, event: EngagementEvent, day: int) -> bool:
        """An event for an email this state no longer holds, or that it already folded away."""
        if self.horizon_day is not None and day < self.horizon_day - self.retention_days:
            return True
        campaign = self.campaigns.get(event.campaign_id) if event.campaign_id else None
        return campaign is not None and campaign[3] == event.email_id

    def _set_status(self, etype: str, ts: int) -> bool:
        rank = {"unsubscribed": 2, "complained": 3}.get(etype, 1)
        if rank > self.status:
            self.status, self.status_at = rank, ts
            return True
        if rank == self.status and (self.status_at is None or ts < self.status_at):
            self.status_at = ts
            return True
        return False

    def _refresh(self, send: EmailRecord) -> None:
        """Swap the email's old contribution for its new one; keep its campaign row current."""
        new = send.contribution(self.machine_rules)
        old = send.contrib
        if old != new:
            cutoff = -1 if self.horizon_day is None else self.horizon_day - self.retention_days
            self.ledger.swap(send.email_id, old, new, cutoff)
            send.contrib = new
        if send.campaign_id:  # also when only a terminal flag moved (unsubscribed, complained)
            sent_ts = new[K_SENT_TS] if new[K_SENT_TS] is not None else send.anchor()
            status = campaign_status(new, send.flags)
            row = self.campaigns.get(send.campaign_id)
            if row is None or row[1] != sent_ts or row[2] != status or row[0] != send.campaign_name:
                self.campaigns[send.campaign_id] = [send.campaign_name, sent_ts, status, send.email_id]

    def _fold(self, cutoff_day: int) -> None:
        """Drop detail older than the retention window (counters and campaign rows stay)."""
        self._folded_to = cutoff_day
        self.ledger.drop_before(cutoff_day)
        for send in [s for s in self.sends.values() if s.anchor() // DAY < cutoff_day]:
            c = self._contribution(send)
            if c is not None:
                self.ledger.remember_folded(c)
            del self.sends[send.email_id]

    @property
    def sends(self) -> dict[str, EmailRecord]:
        """Per-email records (materialised from stored JSON on first use: scoring never needs them)."""
        if self._raw_sends is not None:
            for email_id, row in self._raw_sends.items():
                send = record_from_row(email_id, row, self.campaigns)
                send.contrib = LAZY
                self._sends[email_id] = send
            self._raw_sends = None
        return self._sends

    def _contribution(self, send: EmailRecord) -> tuple | None:
        if send.contrib is LAZY:
            send.contrib = send.contribution(self.machine_rules)
        return send.contrib

    def _settle(self) -> None:
        if self.ledger.dirty_last:
            self.ledger.settle(c for c in map(self._contribution, self.sends.values()) if c is not None)

    # ------------------------------------------------------------ read access

    def last_times(self) -> tuple[int | None, int | None, int | None]:
        """(last email sent, last human open, last human click) as epoch seconds."""
        self._settle()
        ledger = self.ledger
        return ledger.last_sent_ts, ledger.last_open_ts, ledger.last_click_ts

    @property
    def email_status(self) -> str:
        return EMAIL_STATUSES[self.status]

    # ---------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-safe dict; `from_dict(to_dict())` restores the same behaviour exactly."""
        if self.horizon_day is not None and self._folded_to != self.horizon_day - self.retention_days:
            self._fold(self.horizon_day - self.retention_days)
        self._settle()
        sends = self._raw_sends if self._raw_sends is not None else {
            s.email_id: record_to_row(s, self.campaigns) for s in self._sends.values()}
        return {"v": SCHEMA_VERSION, "contact_id": self.contact_id, **self.ledger.to_dict(), "status": self.status,
                "status_at": self.status_at, "horizon_day": self.horizon_day, "ignored_late": self.ignored_late,
                "campaigns": self.campaigns, "sends": sends}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, retention_days: int = RETENTION_DAYS,
                  machine_rules: MachineRules = DEFAULT_MACHINE_RULES,
                  content_rules: ContentRules = DEFAULT_CONTENT_RULES) -> ContactActivity:
        """Restore from `to_dict()` output (freshly decoded JSON; the activity takes ownership of it).

        Cheap by design: per-email records are only materialised when an event arrives.
        """
        if data.get("v") != SCHEMA_VERSION:
            raise ValueError(f"unsupported activity schema version {data.get('v')!r}")
        act = cls(data.get("contact_id"), retention_days=retention_days,
                  machine_rules=machine_rules, content_rules=content_rules)
        act.ledger = Ledger.from_dict(data)
        act.status, act.status_at = int(data.get("status", 0)), data.get("status_at")
        act.horizon_day = data.get("horizon_day")
        act.ignored_late = int(data.get("ignored_late", 0))
        act.campaigns = data.get("campaigns", {})
        act._raw_sends = data.get("sends") or None
        if act.horizon_day is not None:
            act._folded_to = act.horizon_day - retention_days  # to_dict folded before saving
        return act
