"""Observation: what AgentBuddy holds for each of the story's people at the end of every day,
and what reached it — read from the fake's admin API, never from what Broadcast believes it sent."""
from __future__ import annotations

import json
from typing import Iterable

from integration.storage import Database
from integration.sync import contacts as bc_contacts
from mock_agentbuddy.admin.client import AdminClient, LogReader
from scenarios.verdicts.observations import Observations


class Observer:
    def __init__(self, admin: AdminClient, contact_ids: Iterable[str]) -> None:
        self.admin = admin
        self.inbound: LogReader = admin.follow_inbound()
        self.ab_ids: dict[str, str] = {}                 # scenario id -> AgentBuddy id, once populated
        self.snapshots: dict[str, list[dict]] = {cid: [] for cid in contact_ids}
        self.attempts_seen: tuple | None = None          # the delivery counters at the last snapshot

    def start(self, ab_ids: dict[str, str]) -> None:
        """Read the inbound log from here on: what came before is another story's."""
        self.inbound.skip_to_end()
        self.ab_ids = dict(ab_ids)

    def snapshot(self, day: int, touched: bool, attempts: tuple | None) -> None:
        """AgentBuddy's view of every contact at the end of `day`.

        Only Broadcast's requests and our own AgentBuddy-side edits change it. The fake's inbound
        log (read from where we left off) names the contacts Broadcast's requests mentioned; only
        those are read again, and everyone else's view is yesterday's. After an AgentBuddy-side
        edit, or a request that names no contact we know, everyone is read. When the story runs
        the delivery worker itself, unchanged counters mean nothing arrived (`attempts`; None:
        somebody else delivers, so look).
        """
        arrivals = self.inbound.new() if attempts is None or attempts != self.attempts_seen else []
        self.attempts_seen = attempts
        if touched or day == 0 or not all(self.snapshots[cid] for cid in self.ab_ids):
            stale = set(self.ab_ids)
        else:
            stale = self._mentioned(arrivals)
        for cid, ab_id in self.ab_ids.items():
            if cid not in stale:
                self.snapshots[cid].append({**self.snapshots[cid][-1], "day": day})
                continue
            found = self.admin.record("contacts", ab_id)
            self.snapshots[cid].append({"day": day, "record": found["record"] if found else None,
                                        "events": found["events"] if found else []})

    def _mentioned(self, entries: list[dict]) -> set[str]:
        """Our contacts an inbound request names (by AgentBuddy id, anywhere in path or body)."""
        stale: set[str] = set()
        for entry in entries:
            text = f"{entry.get('path')} {json.dumps(entry.get('payload'))}"
            named = {cid for cid, ab_id in self.ab_ids.items() if names(text, ab_id)}
            if not named and "contact" in text:
                return set(self.ab_ids)  # can't tell whom it touched: look at everyone
            stale |= named
        return stale

    def observations(self, emitted: list[dict], sends: list[dict], db: Database | None = None,
                     organization_id: str | None = None) -> Observations:
        """Everything seen; with Broadcast's `db`, also its own copy of each contact and the whole
        inbound log (left out after a failed replay, which is judged on what it saw)."""
        obs = Observations(self.snapshots, emitted, sends, {}, dict(self.ab_ids))
        if db is not None:
            rows = bc_contacts.contact_rows(db, organization_id, self.ab_ids.values())
            obs.broadcast_rows = {cid: rows[ab_id] for cid, ab_id in self.ab_ids.items()}
            obs.add_inbound(self.inbound.all())
        return obs


def names(text: str, ab_id: str) -> bool:
    """`ab_id` appears as a whole id (ab_contact_1 must not match inside ab_contact_12)."""
    start = text.find(ab_id)
    while start >= 0:
        end = start + len(ab_id)
        if end == len(text) or not (text[end].isalnum() or text[end] == "_"):
            return True
        start = text.find(ab_id, end)
    return False
