"""A contact's engagement aggregates: what scoring and the 5.2 metrics read, and nothing else.

`ContactActivity` keeps one record per email and, whenever a record changes, takes the email's
old contribution out of the ledger and puts the new one in (`account(..., sign)`). The ledger
never sees events, only contributions, so it cannot tell (and does not care) in which order
webhooks arrived.

What it holds:

* lifetime counters (sent, delivered, bounced, human opens and clicks, opened and clicked emails,
  machine opens and clicks) and machine reasons;
* day buckets `[delivered, opened, clicked, first-engaged]` - the first three by the email's send
  day, the last by the day of the email's first human open or click (a click proves an open);
* a log of each email's first human engagement `[ts, email category, email id]` and of every
  human click `[ts, link category, url key, email id]`;
* the last send / human open / human click, including those of emails already folded away.
"""
from __future__ import annotations

from typing import Any, Iterable

from .email_record import (DAY, K_BOUNCED, K_CLICKED, K_CLICKS, K_DAY, K_DELIVERED, K_FIRST_ENGAGED,
                           K_HUMAN_CLICKS, K_KIND, K_LAST_OPEN, K_MACHINE, K_MCLICKS, K_MOPENS, K_OPENS, K_SENT,
                           K_SENT_TS)
from .machine import MACHINE_REASONS

# Lifetime counter slots
(C_SENT, C_DELIVERED, C_BOUNCED, C_OPENS, C_CLICKS, C_OPENED, C_CLICKED,
 C_MACHINE_OPENS, C_MACHINE_CLICKS) = range(9)
COUNTER_NAMES = ("sent", "delivered", "bounced", "opens", "clicks", "opened_emails", "clicked_emails",
                 "machine_opens", "machine_clicks")

# Bucket row slots: by send day (delivered, opened, clicked emails), by event day (first engagement)
B_DELIVERED, B_OPENED, B_CLICKED, B_ENGAGED = range(4)


class Ledger:
    """The aggregates of one contact (see module docstring).

    Kept whole: every counter, bucket and log is updated by swapping one email's old contribution
    for its new one, and that swap must touch all of them together or the ledger stops being a
    function of the set of events.
    """

    __slots__ = ("counters", "machine_reasons", "buckets", "open_log", "click_log", "last_sent_ts",
                 "last_open_ts", "last_click_ts", "folded_last", "dirty_last")

    def __init__(self) -> None:
        self.counters = [0] * len(COUNTER_NAMES)
        self.machine_reasons: dict[int, int] = {}
        self.buckets: dict[int, list[int]] = {}
        self.open_log: list[list] = []   # [first human open/click ts, email category, email id]
        self.click_log: list[list] = []  # [ts, link category, url key, email id]
        self.last_sent_ts: int | None = None
        self.last_open_ts: int | None = None
        self.last_click_ts: int | None = None
        self.folded_last: list[int | None] = [None, None, None]  # last sent/open/click of folded emails
        self.dirty_last = False

    def account(self, email_id: str, c: tuple, sign: int, cutoff_day: int) -> None:
        """Add (`sign` +1) or remove (-1) one email's contribution; buckets before `cutoff_day`
        are no longer kept, so contributions dated before it only move the counters."""
        counters = self.counters
        if c[K_SENT]:
            counters[C_SENT] += sign
        if c[K_DELIVERED]:
            counters[C_DELIVERED] += sign
        if c[K_BOUNCED]:
            counters[C_BOUNCED] += sign
        first = c[K_FIRST_ENGAGED]
        day = c[K_DAY]
        if day >= cutoff_day and (c[K_DELIVERED] or first is not None):
            buckets = self.buckets
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
            if first // DAY >= cutoff_day:
                self._bump(first // DAY, B_ENGAGED, sign)
            _log(self.open_log, [first, c[K_KIND], email_id], sign)
            if c[K_CLICKED]:
                counters[C_CLICKED] += sign
                counters[C_CLICKS] += sign * c[K_CLICKS]
                for ts, category, key in c[K_HUMAN_CLICKS]:
                    _log(self.click_log, [ts, category, key, email_id], sign)
        if sign > 0:  # inline maxima: this runs for every event
            sent = c[K_SENT_TS]
            if sent is not None and (self.last_sent_ts is None or sent > self.last_sent_ts):
                self.last_sent_ts = sent
            if first is not None:
                opened = c[K_LAST_OPEN]
                if opened is not None and (self.last_open_ts is None or opened > self.last_open_ts):
                    self.last_open_ts = opened
                if c[K_HUMAN_CLICKS]:
                    clicked = c[K_HUMAN_CLICKS][-1][0]
                    if self.last_click_ts is None or clicked > self.last_click_ts:
                        self.last_click_ts = clicked
        elif first is not None or c[K_SENT_TS] is not None:
            self.dirty_last = True  # a last-* time may have been taken away: `settle` recomputes

    def swap(self, email_id: str, old: tuple | None, new: tuple, cutoff_day: int) -> None:
        """Replace one email's contribution by its new one (`old` None: an email seen first).

        Taking a contribution out may take a last-* time with it; when the new contribution
        keeps every such time or a later one (the usual case: another open or click), the
        last-* times are still exact and nothing needs recomputing.
        """
        was_dirty = self.dirty_last
        if old is not None:
            self.account(email_id, old, -1, cutoff_day)
        self.account(email_id, new, +1, cutoff_day)
        if self.dirty_last and not was_dirty and _kept(old[K_SENT_TS], new[K_SENT_TS]) \
                and _kept(old[K_LAST_OPEN], new[K_LAST_OPEN]) and _kept(_last_click(old), _last_click(new)):
            self.dirty_last = False

    def _bump(self, day: int, slot: int, delta: int) -> None:
        row = self.buckets.get(day)
        if row is None:
            row = self.buckets[day] = [0, 0, 0, 0]
        row[slot] += delta
        if not (row[0] or row[1] or row[2] or row[3]):
            del self.buckets[day]

    def drop_before(self, cutoff_day: int) -> None:
        """Forget buckets and log entries older than `cutoff_day` (the counters stay)."""
        for day in [d for d in self.buckets if d < cutoff_day]:
            del self.buckets[day]
        cutoff_ts = cutoff_day * DAY
        if any(e[0] < cutoff_ts for e in self.open_log):
            self.open_log = [e for e in self.open_log if e[0] >= cutoff_ts]
        if any(e[0] < cutoff_ts for e in self.click_log):
            self.click_log = [e for e in self.click_log if e[0] >= cutoff_ts]

    def remember_folded(self, c: tuple) -> None:
        """Keep the last-* times of an email whose record is being folded away."""
        fl = self.folded_last
        fl[0] = _max(fl[0], c[K_SENT_TS])
        fl[1] = _max(fl[1], c[K_LAST_OPEN])
        fl[2] = _max(fl[2], c[K_HUMAN_CLICKS][-1][0] if c[K_HUMAN_CLICKS] else None)

    def settle(self, contributions: Iterable[tuple]) -> None:
        """Recompute the last-* times after an email lost a human open/click to a machine rule."""
        if not self.dirty_last:
            return
        sent, opened, clicked = self.folded_last
        for c in contributions:
            sent = _max(sent, c[K_SENT_TS])
            opened = _max(opened, c[K_LAST_OPEN])
            if c[K_HUMAN_CLICKS]:
                clicked = _max(clicked, c[K_HUMAN_CLICKS][-1][0])
        self.last_sent_ts, self.last_open_ts, self.last_click_ts = sent, opened, clicked
        self.dirty_last = False

    def counter(self, name: str) -> int:
        return self.counters[COUNTER_NAMES.index(name)]

    def machine_reason_counts(self) -> dict[str, int]:
        return {MACHINE_REASONS[code]: n for code, n in sorted(self.machine_reasons.items()) if n}

    # ---------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        """The ledger's part of the stored activity (call `settle` first)."""
        return {
            "counters": dict(zip(COUNTER_NAMES, self.counters)),
            "machine_reasons": {str(k): v for k, v in self.machine_reasons.items() if v},
            "buckets": {str(d): row for d, row in sorted(self.buckets.items())},
            "last": [self.last_sent_ts, self.last_open_ts, self.last_click_ts],
            "folded_last": list(self.folded_last),
            "open_log": sorted(self.open_log),
            "click_log": sorted(self.click_log),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ledger:
        """From `to_dict()` output, freshly decoded: the ledger takes ownership of its lists."""
        ledger = cls()
        ledger.counters = [int(data["counters"].get(name, 0)) for name in COUNTER_NAMES]
        ledger.machine_reasons = {int(k): int(v) for k, v in data.get("machine_reasons", {}).items()}
        ledger.buckets = {int(d): row for d, row in data.get("buckets", {}).items()}
        ledger.last_sent_ts, ledger.last_open_ts, ledger.last_click_ts = data.get("last", [None, None, None])
        ledger.folded_last = list(data.get("folded_last", [None, None, None]))
        ledger.open_log = data.get("open_log", [])
        ledger.click_log = data.get("click_log", [])
        return ledger


def _last_click(c: tuple) -> int | None:
    return c[K_HUMAN_CLICKS][-1][0] if c[K_HUMAN_CLICKS] else None


def _kept(old: int | None, new: int | None) -> bool:
    return old is None or (new is not None and new >= old)


def _log(log: list, entry: list, sign: int) -> None:
    if sign > 0:
        log.append(entry)
    else:
        try:
            log.remove(entry)
        except ValueError:
            pass  # already pruned as too old


def _max(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b
