"""One email's record: everything known about one email sent to one contact.

`ContactActivity` keeps an `EmailRecord` per email and, whenever one changes, swaps the record's
old `contribution()` for its new one in the contact's aggregates. The contribution is a pure
function of the record (machine rules included), which is what makes the aggregates independent
of webhook arrival order.
"""
from __future__ import annotations

import zlib

from .machine import MachineRules, classify_clicks, classify_opens

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
