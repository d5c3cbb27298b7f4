"""One email's record: everything known about one email sent to one contact.

`ContactActivity` keeps an `EmailRecord` per email and, whenever one changes, swaps the record's
old `contribution()` for its new one in the contact's aggregates. The contribution is a pure
function of the record (machine rules included), which is what makes the aggregates independent
of webhook arrival order.
"""
from __future__ import annotations

import zlib

from .content import CATEGORIES, CATEGORY_CODE, ContentRules, categorise_campaign, categorise_link
from .events import EngagementEvent
from .machine import REASON_CODE, MachineRules, classify_clicks, classify_opens, is_human_proxy

DAY = 86_400

# Email flags (bits)
SENT, DELIVERED, BOUNCED, COMPLAINED, FAILED, SUPPRESSED, DELAYED, HARD_BOUNCE, UNSUBSCRIBED = (1 << i for i in range(9))
_SENTISH = SENT | DELIVERED | BOUNCED | COMPLAINED
_DELIVERED_MASK = DELIVERED | COMPLAINED
FLAG_OF = {"sent": SENT, "delivered": DELIVERED, "bounced": BOUNCED, "complained": COMPLAINED,
           "failed": FAILED, "suppressed": SUPPRESSED, "delivery_delayed": DELAYED, "unsubscribed": UNSUBSCRIBED}

#: 5.4 campaign status codes (the contract's `CampaignStatus`), indexed by `campaign_status`.
CAMPAIGN_STATUSES = ("sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "complained")


def url_key(url: str | None) -> int:
    """A compact, stable identity for a link (distinct-link counting, click dedupe)."""
    return zlib.crc32((url or "").encode()) if url else 0


class EmailRecord:
    """Everything known about one email to this contact."""

    __slots__ = ("email_id", "campaign_id", "campaign_name", "kind", "sent_ts", "delivered_ts",
                 "first_ts", "flags", "opens", "clicks", "contrib")

    def __init__(self, email_id: str) -> None:
        self.email_id = email_id
        self.campaign_id: str | None = None
        self.campaign_name: str | None = None
        self.kind = 0
        self.sent_ts: int | None = None
        self.delivered_ts: int | None = None
        self.first_ts: int | None = None
        self.flags = 0
        self.opens: list[list[int]] = []   # [ts, intrinsic reason code, human proxy 0/1], by ts
        self.clicks: list[list[int]] = []  # [ts, url key, category code, intrinsic reason code], by ts
        self.contrib: tuple | None = None

    def record(self, event: EngagementEvent, ts: int, machine_rules: MachineRules,
               content_rules: ContentRules) -> bool:
        """Fold one event into this email's record; False when the record already had it.

        The same open (second) or click (second and link) seen again with another verdict merges
        to the human one, so the outcome does not depend on which copy arrived first.
        """
        changed = self._note(event, ts, content_rules)
        etype = event.event_type
        if etype == "opened":
            return self._open(event, ts, machine_rules) or changed
        if etype == "clicked":
            return self._click(event, ts, content_rules) or changed
        flag = FLAG_OF.get(etype, 0)
        if etype == "bounced" and event.bounce_type == "hard":
            flag |= HARD_BOUNCE
        if flag & ~self.flags:
            self.flags |= flag
            changed = True
        if etype == "sent" and (self.sent_ts is None or ts < self.sent_ts):
            self.sent_ts = ts
            changed = True
        if etype == "delivered" and (self.delivered_ts is None or ts < self.delivered_ts):
            self.delivered_ts = ts
            changed = True
        return changed

    def _note(self, event: EngagementEvent, ts: int, content_rules: ContentRules) -> bool:
        """What any event tells about the email itself: campaign, kind, first human-looking time."""
        changed = False
        if not event.machine and (self.first_ts is None or ts < self.first_ts):
            self.first_ts = ts
            changed = True
        if event.campaign_id and self.campaign_id is None:
            self.campaign_id = event.campaign_id
            changed = True
        if event.campaign_name and self.campaign_name is None:
            self.campaign_name = event.campaign_name
            changed = True
        if event.campaign_kind and self.kind == 0:
            self.kind = CATEGORY_CODE[categorise_campaign(event.campaign_kind, content_rules)]
            changed = changed or self.kind != 0
        return changed

    def _open(self, event: EngagementEvent, ts: int, machine_rules: MachineRules) -> bool:
        code = _intrinsic_code(event)
        proxy = int(is_human_proxy(event, machine_rules))
        for row in self.opens:
            if row[0] == ts:  # the same open again: merge verdicts, human wins (order-free)
                merged = [ts, min(row[1], code), max(row[2], proxy)]
                if merged == row:
                    return False
                row[:] = merged
                return True
        self.opens.append([ts, code, proxy])
        self.opens.sort()
        return True

    def _click(self, event: EngagementEvent, ts: int, content_rules: ContentRules) -> bool:
        key = url_key(event.url)
        code = _intrinsic_code(event)
        for row in self.clicks:
            if row[0] == ts and row[1] == key:  # the same click again: human wins (order-free)
                if code >= row[3]:
                    return False
                row[3] = code
                return True
        category = event.link_category or categorise_link(
            event.url, CATEGORIES[self.kind] if self.kind else event.campaign_kind, content_rules)
        self.clicks.append([ts, key, CATEGORY_CODE.get(category, 0), code])
        self.clicks.sort()
        return True

    def anchor(self) -> int:
        """When the email went out: sent, else delivered, else its earliest human-looking event.

        Machine events (by agent or address) never move it, so they cannot shift an email between
        scoring windows; an email known only from machine events is anchored at the first of them.
        """
        if self.sent_ts is not None:
            return self.sent_ts
        if self.delivered_ts is not None:
            return self.delivered_ts
        if self.first_ts is not None:
            return self.first_ts
        return min(row[0] for row in (*self.opens, *self.clicks))

    def contribution(self, rules: MachineRules) -> tuple:
        """What this email adds to the aggregates; a pure function of the record."""
        flags = self.flags
        anchor = self.anchor()
        delivered = bool(flags & _DELIVERED_MASK)
        if not self.opens and not self.clicks:  # the common case: sent / delivered / bounced only
            sent = bool(flags & _SENTISH)
            return (anchor // DAY, sent, delivered, bool(flags & BOUNCED) and not delivered, False, False,
                    0, 0, 0, 0, None, None, (), (), anchor if sent else None, self.kind)
        human_opens: list[int] = []
        machine: list[int] = []
        if self.opens:
            for row, code in zip(self.opens, classify_opens(self.opens, self.delivered_ts, rules)):
                if code:
                    machine.append(code)
                else:
                    human_opens.append(row[0])
        n_machine_opens = len(machine)
        human_clicks: list[tuple[int, int, int]] = []
        if self.clicks:
            for row, code in zip(self.clicks, classify_clicks(self.clicks, self.delivered_ts, rules)):
                if code:
                    machine.append(code)
                else:
                    human_clicks.append((row[0], row[2], row[1]))
        first = human_opens[0] if human_opens else None  # rows are kept sorted by time
        if human_clicks and (first is None or human_clicks[0][0] < first):
            first = human_clicks[0][0]
        sent = bool(flags & _SENTISH) or first is not None
        return (
            anchor // DAY, sent, delivered, bool(flags & BOUNCED) and not delivered, first is not None,
            bool(human_clicks), len(human_opens), len(human_clicks), n_machine_opens,
            len(machine) - n_machine_opens, first, human_opens[-1] if human_opens else None,
            tuple(human_clicks), tuple(machine), anchor if sent else None, self.kind,
        )


def _intrinsic_code(event: EngagementEvent) -> int:
    """0 for a human-looking event, else the code of the reason it was flagged with."""
    return REASON_CODE.get(event.machine_reason or "provider_flagged", 7) if event.machine else 0


#: Marks an email restored from JSON whose contribution is computed only when first needed, so
#: loading a stored activity just to score it costs no per-email work.
LAZY: tuple = ("lazy",)

# contribution slots
(K_DAY, K_SENT, K_DELIVERED, K_BOUNCED, K_OPENED, K_CLICKED, K_OPENS, K_CLICKS, K_MOPENS, K_MCLICKS,
 K_FIRST_ENGAGED, K_LAST_OPEN, K_HUMAN_CLICKS, K_MACHINE, K_SENT_TS, K_KIND) = range(16)




def campaign_status(c: tuple, flags: int = 0) -> int:
    """The furthest state (contract `CampaignStatus`): sent < delivered < opened < clicked, and the terminal
    states win whatever else is known, so a late (machine) open never turns a bounce into `opened`."""
    if flags & COMPLAINED:
        return 6
    if flags & UNSUBSCRIBED:
        return 5
    if c[K_BOUNCED]:
        return 2
    if c[K_CLICKED]:
        return 4
    if c[K_OPENED]:
        return 3
    if c[K_BOUNCED]:
        return 2
    if c[K_DELIVERED]:
        return 1
    return 0


def record_to_row(s: EmailRecord, campaigns: dict[str, list]) -> list:
    """Compact row; the campaign name is left out when the campaign row already carries it."""
    row = campaigns.get(s.campaign_id) if s.campaign_id else None
    name = None if row is not None and row[0] == s.campaign_name else s.campaign_name
    return [s.campaign_id, name, s.kind, s.sent_ts, s.delivered_ts, s.first_ts, s.flags, s.opens, s.clicks]


def record_from_row(email_id: str, row: list, campaigns: dict[str, list]) -> EmailRecord:
    s = EmailRecord(email_id)
    (s.campaign_id, s.campaign_name, s.kind, s.sent_ts, s.delivered_ts, s.first_ts, s.flags,
     opens, clicks) = row
    if s.campaign_name is None and s.campaign_id in campaigns:
        s.campaign_name = campaigns[s.campaign_id][0]
    s.opens = [list(r) for r in opens]
    s.clicks = [list(r) for r in clicks]
    return s
