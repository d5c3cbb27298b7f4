"""Random, seeded changes to the world: the admin `{"churn": {...}}` request and `--churn RATE`,
applied in the background, so a running fake behaves like a CRM that agents are using while
Broadcast syncs. Every change goes through `mutations.mutate`, like an admin edit.
"""
from __future__ import annotations

import logging
import random
import threading

from . import vocabulary as vocab
from .mutations import Change, MutationError, mutate

log = logging.getLogger("mock_agentbuddy.churn")


def churn(state, count: int, account_id: str | None = None) -> list[Change]:
    """`count` random, seeded changes: mostly contact edits, some creates and deletes, and
    edits to offices, agents and properties. Same seed and same history give the same churn."""
    rng: random.Random = state.churn_rng
    changes = []
    for _ in range(count):
        with state.lock:
            accounts = sorted(state.world.accounts) if account_id is None else [account_id]
            target = accounts[int(rng.random() * len(accounts))]
            plan = _plan(state, rng, target)
        if plan is not None:
            changes.append(mutate(state, target, *plan))
    return changes


def _plan(state, rng: random.Random, account_id: str):
    collections = state.world.accounts[account_id].collections
    roll = rng.random()

    def pick_live(name: str):
        keys = collections[name].keys
        for _ in range(20):
            record = collections[name].records[keys[int(rng.random() * len(keys))][1]]
            if record["deleted_at"] is None:
                return record
        return None

    if roll < 0.12:
        return ("contact", "create", None, {})
    if roll < 0.20:
        contact = pick_live("contacts")
        return None if contact is None else ("contact", "delete", contact["id"], {})
    if roll < 0.85:
        contact = pick_live("contacts")
        if contact is None:
            return None
        field = rng.choice(["phone", "tags", "status", "email_opt_in", "custom_fields", "contact_type"])
        value = {
            "phone": _phone(state, rng, account_id),
            "tags": sorted({rng.choice(vocab.TAGS) for _ in range(rng.randint(1, 3))}),
            "status": "archived" if contact["status"] == "active" else "active",
            "email_opt_in": not contact["email_opt_in"],
            "custom_fields": {**contact["custom_fields"], "lead_source": rng.choice(vocab.LEAD_SOURCES)},
            "contact_type": rng.choice(["buyer", "seller", "owner", "lead"]),
        }[field]
        return ("contact", "update", contact["id"], {field: value})
    if roll < 0.92:
        prop = pick_live("properties")
        if prop is None:
            return None
        return ("property", "update", prop["id"],
                {"estimated_value": int(prop["estimated_value"] * (0.95 + rng.random() * 0.1) / 1000) * 1000})
    if roll < 0.97:
        agent = pick_live("agents")
        return None if agent is None else ("agent", "update", agent["id"], {"phone": _phone(state, rng, account_id)})
    office = pick_live("offices")
    return None if office is None else ("office", "update", office["id"], {"phone": _phone(state, rng, account_id)})


def _phone(state, rng: random.Random, account_id: str) -> str:
    """A new number in the account's market (its area code)."""
    return f"+1-{state.world.markets[account_id][1]}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"


class ChurnRunner:
    """Applies one churn change every `60 / per_minute` seconds until stopped."""

    def __init__(self, state, per_minute: float) -> None:
        self.state = state
        self.interval = 60.0 / per_minute
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mock-churn", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                churn(self.state, 1)
            except MutationError as error:  # e.g. nothing left to delete; try again next tick
                log.info("churn skipped: %s", error.detail)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
