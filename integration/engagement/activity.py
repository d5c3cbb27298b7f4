"""Per-contact engagement state, kept up to date one event at a time.

The pipeline stores one `ContactActivity` per contact (as the small JSON dict of `to_dict`) and
calls `apply(event)` as events arrive, so scoring never re-reads the event log.

How it stays right under redelivery and reordering:

* Every email (send) has a record of what happened to it: flags, delivery time, its opens
  (by second) and clicks (by second and link). An event already in the record changes nothing,
  so `apply` is idempotent by the event's natural key (which is what `event_id` is derived from;
  two events with different ids but the same email, type, second and link are one event).
* Everything derived from an email - human or machine, counted where - is recomputed from that
  record whenever it changes (`EmailRecord.contribution`, email_record.py), and the old contribution swapped for the
  new one in the aggregates. The result is a function of the set of events, not their order.

What is kept: lifetime counters; per-day buckets (by the email's send day) of delivered /
opened / clicked emails and (by the day it happened) each email's first human engagement; a log
of recent human opens and clicks; campaign participation (5.4); email status. Records of emails
older than `retention_days` before the newest event are folded away: their counts stay in the
lifetime counters and their campaign row stays, but a webhook for them that arrives later than
that is ignored (it can no longer be told apart from one already counted).
"""
from __future__ import annotations

from typing import Any

from .content import CATEGORIES, CATEGORY_CODE, DEFAULT_CONTENT_RULES, ContentRules, categorise_campaign, categorise_link
from .email_record import (DAY, FLAG_OF, HARD_BOUNCE, K_CLICKED, K_CLICKS, K_DAY,
                           K_DELIVERED, K_FIRST_ENGAGED, K_HUMAN_CLICKS, K_KIND, K_LAST_OPEN, K_MACHINE, K_MCLICKS,
                           K_MOPENS, K_OPENS, K_SENT, K_SENT_TS, K_BOUNCED, LAZY, EmailRecord, campaign_status,
                           record_from_row, record_to_row, url_key)
from .events import EngagementEvent
from .machine import DEFAULT_MACHINE_RULES, MACHINE_REASONS, REASON_CODE, MachineRules, is_human_proxy

SCHEMA_VERSION = 1
RETENTION_DAYS = 120
#: Folding old detail away runs at most once per this many days of horizon movement.
FOLD_EVERY_DAYS = 7

#: Email status, in precedence order: a stronger status is never undone by a weaker one.
EMAIL_STATUSES = ("subscribed", "bounced", "unsubscribed", "complained")

# Lifetime counter slots
(C_SENT, C_DELIVERED, C_BOUNCED, C_OPENS, C_CLICKS, C_OPENED, C_CLICKED,
 C_MACHINE_OPENS, C_MACHINE_CLICKS) = range(9)
COUNTER_NAMES = ("sent", "delivered", "bounced", "opens", "clicks", "opened_emails", "clicked_emails",
                 "machine_opens", "machine_clicks")

# Bucket row slots: by send day (delivered, opened, clicked emails), by event day (first engagement)
B_DELIVERED, B_OPENED, B_CLICKED, B_ENGAGED = range(4)


class ContactActivity:
    """Incrementally maintained engagement state of one contact (see module docstring)."""

    __slots__ = ("contact_id", "counters", "machine_reasons", "buckets", "open_log", "click_log",
                 "campaigns", "_sends", "_raw_sends", "status", "status_at", "horizon_day", "last_sent_ts",
                 "last_open_ts", "last_click_ts", "folded_last", "_dirty_last", "_folded_to", "ignored_late",
                 "retention_days", "machine_rules", "content_rules")

    def __init__(self, contact_id: str | None = None, *, retention_days: int = RETENTION_DAYS,
                 machine_rules: MachineRules = DEFAULT_MACHINE_RULES,
                 content_rules: ContentRules = DEFAULT_CONTENT_RULES) -> None:
        self.contact_id = contact_id
        self.counters = [0] * len(COUNTER_NAMES)
        self.machine_reasons: dict[int, int] = {}
        self.buckets: dict[int, list[int]] = {}
        self.open_log: list[list] = []   # [first human open/click ts, email category, email id]
        self.click_log: list[list] = []  # [ts, link category, url key, email id]
        self.campaigns: dict[str, list] = {}                  # id -> [name, sent ts, status code, email id]
        self._sends: dict[str, EmailRecord] = {}
        self._raw_sends: dict[str, list] | None = None  # restored from JSON, not yet needed
        self.status = 0
        self.status_at: int | None = None
        self.horizon_day: int | None = None
        self.last_sent_ts: int | None = None
        self.last_open_ts: int | None = None
        self.last_click_ts: int | None = None
        self.folded_last = [None, None, None]  # last sent/open/click of folded emails
        self._dirty_last = False
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
        cutoff = None if self.horizon_day is None else self.horizon_day - self.retention_days
        send = self.sends.get(event.email_id)
        if send is None:
            if cutoff is not None and day < cutoff:
                self.ignored_late += 1
                return False
            campaign = self.campaigns.get(event.campaign_id) if event.campaign_id else None
            if campaign is not None and campaign[3] == event.email_id:
                self.ignored_late += 1  # an email already folded away
                return False
            send = self.sends[event.email_id] = EmailRecord(event.email_id)
        if send.contrib is LAZY:
            send.contrib = send.contribution(self.machine_rules)
        if not self._record(send, event, etype, ts):
            return False
        self._refresh(send)
        if self.horizon_day is None or day > self.horizon_day:
            self.horizon_day = day
            if self._folded_to is None or day - self.retention_days >= self._folded_to + FOLD_EVERY_DAYS:
                self._fold(day - self.retention_days)
        return True

    def _record(self, send: EmailRecord, event: EngagementEvent, etype: str, ts: int) -> bool:
        changed = False
        if not event.machine and (send.first_ts is None or ts < send.first_ts):
            send.first_ts = ts
            changed = True
        if event.campaign_id and send.campaign_id is None:
            send.campaign_id = event.campaign_id
            changed = True
        if event.campaign_name and send.campaign_name is None:
            send.campaign_name = event.campaign_name
            changed = True
        if event.campaign_kind and send.kind == 0:
            send.kind = CATEGORY_CODE[categorise_campaign(event.campaign_kind, self.content_rules)]
            changed = changed or send.kind != 0
        if etype == "opened":
            code = REASON_CODE.get(event.machine_reason or "provider_flagged", 7) if event.machine else 0
            proxy = int(is_human_proxy(event, self.machine_rules))
            for row in send.opens:
                if row[0] == ts:  # the same open again: merge verdicts, human wins (order-free)
                    merged = [ts, min(row[1], code), max(row[2], proxy)]
                    if merged == row:
                        return changed
                    row[:] = merged
                    return True
            send.opens.append([ts, code, proxy])
            send.opens.sort()
            return True
        if etype == "clicked":
            key = url_key(event.url)
            code = REASON_CODE.get(event.machine_reason or "provider_flagged", 7) if event.machine else 0
            for row in send.clicks:
                if row[0] == ts and row[1] == key:  # the same click again: human wins (order-free)
                    if code >= row[3]:
                        return changed
                    row[3] = code
                    return True
            category = event.link_category or categorise_link(
                event.url, CATEGORIES[send.kind] if send.kind else event.campaign_kind, self.content_rules)
            send.clicks.append([ts, key, CATEGORY_CODE.get(category, 0), code])
            send.clicks.sort()
            return True
        flag = FLAG_OF.get(etype, 0)
        if etype == "bounced" and event.bounce_type == "hard":
            flag |= HARD_BOUNCE
        if flag & ~send.flags:
            send.flags |= flag
            changed = True
        if etype == "sent" and (send.sent_ts is None or ts < send.sent_ts):
            send.sent_ts = ts
            changed = True
        if etype == "delivered" and (send.delivered_ts is None or ts < send.delivered_ts):
            send.delivered_ts = ts
            changed = True
        return changed

    def _set_status(self, etype: str, ts: int) -> bool:
        rank = {"unsubscribed": 2, "complained": 3}.get(etype, 1)
        if rank > self.status:
            self.status, self.status_at = rank, ts
            return True
        if rank == self.status and (self.status_at is None or ts < self.status_at):
            self.status_at = ts
            return True
        return False

    # -------------------------------------------------------------- aggregates

    def _refresh(self, send: EmailRecord) -> None:
        new = send.contribution(self.machine_rules)
        old = send.contrib
        if old != new:
            if old is not None:
                self._account(send.email_id, old, -1)
            self._account(send.email_id, new, +1)
            send.contrib = new
        if send.campaign_id:  # also when only a terminal flag moved (unsubscribed, complained)
            sent_ts = new[K_SENT_TS] if new[K_SENT_TS] is not None else send.anchor()
            status = campaign_status(new, send.flags)
            row = self.campaigns.get(send.campaign_id)
            if row is None or row[1] != sent_ts or row[2] != status or row[0] != send.campaign_name:
                self.campaigns[send.campaign_id] = [send.campaign_name, sent_ts, status, send.email_id]

    def _account(self, email_id: str, c: tuple, sign: int) -> None:
        counters = self.counters
        if c[K_SENT]:
            counters[C_SENT] += sign
        if c[K_DELIVERED]:
            counters[C_DELIVERED] += sign
        if c[K_BOUNCED]:
            counters[C_BOUNCED] += sign
        first = c[K_FIRST_ENGAGED]
        cutoff = -1 if self.horizon_day is None else self.horizon_day - self.retention_days
        day = c[K_DAY]
        buckets = self.buckets
        if day >= cutoff and (c[K_DELIVERED] or first is not None):
            row = buckets.get(day)
            if row is None:
                row = buckets[day] = [0, 0, 0, 0]
            if c[K_DELIVERED]:
                row[B_DELIVERED] += sign
            if first is not None:
                row[B_OPENED] += sign
                if c[K_CLICKED]:
                    row[B_CLICKED] += sign
            if not (row[0] or row[1] or row[2] or row[3]):
                del buckets[day]
        if c[K_MACHINE]:
            counters[C_MACHINE_OPENS] += sign * c[K_MOPENS]
            counters[C_MACHINE_CLICKS] += sign * c[K_MCLICKS]
            reasons = self.machine_reasons
            for code in c[K_MACHINE]:
                reasons[code] = reasons.get(code, 0) + sign
        if first is not None:
            counters[C_OPENED] += sign
            counters[C_OPENS] += sign * c[K_OPENS]
            if first // DAY >= cutoff:
                self._bump(first // DAY, B_ENGAGED, sign)
            self._log(self.open_log, [first, c[K_KIND], email_id], sign)
            if c[K_CLICKED]:
                counters[C_CLICKED] += sign
                counters[C_CLICKS] += sign * c[K_CLICKS]
                for ts, category, key in c[K_HUMAN_CLICKS]:
                    self._log(self.click_log, [ts, category, key, email_id], sign)
        if sign > 0:
            if c[K_SENT_TS] is not None and (self.last_sent_ts is None or c[K_SENT_TS] > self.last_sent_ts):
                self.last_sent_ts = c[K_SENT_TS]
            if first is not None:
                self.last_open_ts = _max(self.last_open_ts, c[K_LAST_OPEN])
                if c[K_HUMAN_CLICKS]:
                    self.last_click_ts = _max(self.last_click_ts, c[K_HUMAN_CLICKS][-1][0])
        elif first is not None or c[K_SENT_TS] is not None:
            self._dirty_last = True

    def _bump(self, day: int, slot: int, delta: int) -> None:
        row = self.buckets.get(day)
        if row is None:
            row = self.buckets[day] = [0, 0, 0, 0]
        row[slot] += delta
        if not (row[0] or row[1] or row[2] or row[3]):
            del self.buckets[day]

    @staticmethod
    def _log(log: list, entry: tuple, sign: int) -> None:
        if sign > 0:
            log.append(entry)
        else:
            try:
                log.remove(entry)
            except ValueError:
                pass  # already pruned as too old

    def _fold(self, cutoff_day: int) -> None:
        """Drop detail older than the retention window (counters and campaign rows stay)."""
        self._folded_to = cutoff_day
        for day in [d for d in self.buckets if d < cutoff_day]:
            del self.buckets[day]
        cutoff_ts = cutoff_day * DAY
        if any(e[0] < cutoff_ts for e in self.open_log):
            self.open_log = [e for e in self.open_log if e[0] >= cutoff_ts]
        if any(e[0] < cutoff_ts for e in self.click_log):
            self.click_log = [e for e in self.click_log if e[0] >= cutoff_ts]
        old = [s for s in self.sends.values() if s.anchor() // DAY < cutoff_day]
        for send in old:
            c = self._contribution(send)
            if c is not None:
                fl = self.folded_last
                fl[0] = _max(fl[0], c[K_SENT_TS])
                fl[1] = _max(fl[1], c[K_LAST_OPEN])
                fl[2] = _max(fl[2], c[K_HUMAN_CLICKS][-1][0] if c[K_HUMAN_CLICKS] else None)
            del self.sends[send.email_id]

    def _settle(self) -> None:
        """Recompute the last-* times after an email lost a human open/click to a machine rule."""
        if not self._dirty_last:
            return
        sent, opened, clicked = self.folded_last
        for send in self.sends.values():
            c = self._contribution(send)
            if c is None:
                continue
            sent = _max(sent, c[K_SENT_TS])
            opened = _max(opened, c[K_LAST_OPEN])
            if c[K_HUMAN_CLICKS]:
                clicked = _max(clicked, c[K_HUMAN_CLICKS][-1][0])
        self.last_sent_ts, self.last_open_ts, self.last_click_ts = sent, opened, clicked
        self._dirty_last = False

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

    # ------------------------------------------------------------ read access

    def last_times(self) -> tuple[int | None, int | None, int | None]:
        """(last email sent, last human open, last human click) as epoch seconds."""
        self._settle()
        return self.last_sent_ts, self.last_open_ts, self.last_click_ts

    @property
    def email_status(self) -> str:
        return EMAIL_STATUSES[self.status]

    def counter(self, name: str) -> int:
        return self.counters[COUNTER_NAMES.index(name)]

    def machine_reason_counts(self) -> dict[str, int]:
        return {MACHINE_REASONS[code]: n for code, n in sorted(self.machine_reasons.items()) if n}

    # ---------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-safe dict; `from_dict(to_dict())` restores the same behaviour exactly."""
        if self.horizon_day is not None and self._folded_to != self.horizon_day - self.retention_days:
            self._fold(self.horizon_day - self.retention_days)
        self._settle()
        return {
            "v": SCHEMA_VERSION,
            "contact_id": self.contact_id,
            "counters": dict(zip(COUNTER_NAMES, self.counters)),
            "machine_reasons": {str(k): v for k, v in self.machine_reasons.items() if v},
            "buckets": {str(d): row for d, row in sorted(self.buckets.items())},
            "status": self.status, "status_at": self.status_at,
            "horizon_day": self.horizon_day,
            "last": [self.last_sent_ts, self.last_open_ts, self.last_click_ts],
            "folded_last": list(self.folded_last),
            "ignored_late": self.ignored_late,
            "campaigns": self.campaigns,
            "open_log": sorted(self.open_log),
            "click_log": sorted(self.click_log),
            "sends": (self._raw_sends if self._raw_sends is not None
                      else {s.email_id: record_to_row(s, self.campaigns) for s in self._sends.values()}),
        }

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
        act.counters = [int(data["counters"].get(name, 0)) for name in COUNTER_NAMES]
        act.machine_reasons = {int(k): int(v) for k, v in data.get("machine_reasons", {}).items()}
        act.buckets = {int(d): row for d, row in data.get("buckets", {}).items()}  # fresh lists: owned, not copied
        act.status, act.status_at = int(data.get("status", 0)), data.get("status_at")
        act.horizon_day = data.get("horizon_day")
        act.last_sent_ts, act.last_open_ts, act.last_click_ts = data.get("last", [None, None, None])
        act.folded_last = list(data.get("folded_last", [None, None, None]))
        act.ignored_late = int(data.get("ignored_late", 0))
        act.campaigns = data.get("campaigns", {})
        act._raw_sends = data.get("sends") or None
        if act.horizon_day is not None:
            act._folded_to = act.horizon_day - retention_days  # to_dict folded before saving
        act.open_log = data.get("open_log", [])
        act.click_log = data.get("click_log", [])
        return act


def _max(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b
