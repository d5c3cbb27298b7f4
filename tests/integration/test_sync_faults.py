"""Sync against a misbehaving AgentBuddy (the fake's `/__admin/faults`): 429 storms, 5xx,
dropped connections and truncated bodies are retried; a persistent outage fails the run
cleanly and the next run picks up where it stopped."""
from __future__ import annotations

import pytest

from integration.agentbuddy import connections, tokens
from integration.agentbuddy import session as agentbuddy_session
from integration.agentbuddy.errors import Unavailable

from .conftest import ConnectedOrg, connect

TABLES = ("offices", "agents", "contacts", "properties")


def _faults(org: ConnectedOrg, *faults: dict) -> None:
    org.fake.admin("POST", "faults", json={"faults": list(faults)})


def _ids(org: ConnectedOrg) -> dict[str, set[str]]:
    return {t: {r["id"] for r in org.rows(t)} for t in TABLES}


def _expected(org: ConnectedOrg) -> dict[str, set[str]]:
    return {t: {r["id"] for r in org.fake.records(t)} for t in TABLES}


def _sync_with_client(org: ConnectedOrg):
    client = tokens.client_for(org.db, org.config, org.organization_id, clock=org.clock)
    summary = org.sync(client=client)
    return summary, client.stats


def test_429_storm_with_retry_after_is_waited_out(connected_org: ConnectedOrg):
    _faults(connected_org, {"kind": "rate_limit", "operations": ["listContacts"], "count": 3, "burst": 3,
                            "retry_after": 0})
    summary, stats = _sync_with_client(connected_org)
    assert stats.retries_by_status.get(429) == 3
    assert _ids(connected_org) == _expected(connected_org)
    assert summary.entities["contacts"].quarantined == 0


def test_5xx_bursts_are_retried_with_backoff(connected_org: ConnectedOrg):
    _faults(connected_org,
            {"kind": "error", "status": 503, "operations": ["list*"], "count": 2, "retry_after": 0},
            {"kind": "error", "status": 500, "operations": ["listProperties"], "count": 2})
    _summary, stats = _sync_with_client(connected_org)
    assert stats.retries_by_status.get(503) == 2 and stats.retries_by_status.get(500) == 2
    assert _ids(connected_org) == _expected(connected_org)


def test_dropped_connections_and_truncated_bodies_are_retried(connected_org: ConnectedOrg):
    _faults(connected_org,
            {"kind": "reset", "operations": ["listContacts"], "count": 2},
            {"kind": "truncate", "operations": ["listAgents", "listContacts"], "count": 2})
    _summary, stats = _sync_with_client(connected_org)
    assert stats.body_retries >= 1  # a truncated body is only noticed while reading it
    assert _ids(connected_org) == _expected(connected_org)


@pytest.mark.parametrize("profile", ["flaky", "resets"])
def test_seeded_fault_profiles_still_converge_to_a_clean_sync(connected_org: ConnectedOrg, profile: str):
    clean = connect(connected_org.db, connected_org.config, connected_org.clock, connected_org.fake, "org_clean")
    clean.sync()
    connected_org.fake.admin("POST", "faults", json={"profile": profile, "seed": 11})
    connected_org.sync()
    connected_org.fake.admin("POST", "faults", json={"profile": "none"})
    assert _ids(connected_org) == _ids(clean) == _expected(connected_org)


def test_a_persistent_outage_fails_the_run_and_the_next_run_resumes(connected_org: ConnectedOrg):
    org = connected_org
    _faults(org, {"kind": "error", "status": 503, "operations": ["listProperties"], "retry_after": 0})
    with pytest.raises(Unavailable):
        org.sync()
    with org.db.transaction(readonly=True) as tx:
        run = tx.fetchone("SELECT status, error FROM sync_runs WHERE organization_id = 'org_a'")
        state = tx.fetchone("SELECT last_error, run_id FROM sync_state WHERE organization_id = 'org_a'"
                            " AND entity = 'properties'")
    assert run["status"] == "failed" and "503" in run["error"]
    assert state["run_id"] is not None and "503" in state["last_error"]
    assert org.rows("contacts")  # what was synced before the outage stays

    _faults(org)
    summary = org.sync()
    assert summary.entities["properties"].resumed
    assert _ids(org) == _expected(org)
    assert connections.get_connection(org.db, "org_a").status == "active"  # an outage is not an auth problem


def test_the_wait_asked_for_by_retry_after_is_the_wait_taken(connected_org: ConnectedOrg, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(agentbuddy_session.time, "sleep", waits.append)  # record instead of sleeping
    _faults(connected_org, {"kind": "rate_limit", "operations": ["listOffices"], "count": 1, "retry_after": 7})
    _summary, stats = _sync_with_client(connected_org)
    assert stats.retries_by_status.get(429) == 1
    assert 7 in waits
