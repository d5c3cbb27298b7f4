"""A sync killed at any point resumes and converges to what a clean run produces."""
from __future__ import annotations

import pytest

from integration import sync as sync_engine
from integration.storage import Database

from .conftest import ConnectedOrg, advance_both, connect

IGNORED = {"organization_id", "synced_at"}
TABLES = ("offices", "agents", "contacts", "properties")


class Crash(Exception):
    """Stands in for the process dying."""


def _crash_at(stream: str, page: int, phase: str):
    def fault(name: str, number: int, where: str) -> None:
        if (name, number, where) == (stream, page, phase):
            raise Crash(f"killed at {stream} page {page} ({phase})")
    return fault


def _snapshot(db: Database, organization_id: str, ignored: set[str] = frozenset()) -> dict[str, list[dict]]:
    with db.transaction(readonly=True) as tx:
        return {
            table: [{k: v for k, v in row.items() if k not in IGNORED | ignored}
                    for row in tx.fetchall(f"SELECT * FROM {table} WHERE organization_id = ? ORDER BY id",
                                           (organization_id,))]
            for table in TABLES
        }


@pytest.mark.parametrize("stream,page,phase", [
    ("offices", 1, "fetched"),
    ("contacts", 1, "committed"),
    ("contacts", 2, "fetched"),
    ("contacts", 2, "committed"),
    ("properties", 1, "committed"),
])
def test_killed_initial_sync_resumes_and_converges(connected_org: ConnectedOrg, stream, page, phase):
    crashy = connected_org
    clean = connect(crashy.db, crashy.config, crashy.clock, crashy.fake, "org_clean")

    with pytest.raises(Crash):
        crashy.sync(fault=_crash_at(stream, page, phase))
    resumed = crashy.sync()
    assert resumed.entities[stream].resumed
    clean.sync()
    assert _snapshot(crashy.db, "org_a") == _snapshot(clean.db, "org_clean")
    with crashy.db.transaction(readonly=True) as tx:  # no run left half-open, lease released
        assert tx.fetchval("SELECT count(*) AS n FROM sync_state WHERE run_id IS NOT NULL") == 0
        assert tx.fetchval("SELECT count(*) AS n FROM sync_leases") == 0
        statuses = [r["status"] for r in tx.fetchall(
            "SELECT status FROM sync_runs WHERE organization_id = 'org_a' ORDER BY started_at, run_id")]
    assert sorted(statuses) == ["failed", "succeeded"]


def test_changes_made_while_a_killed_sync_was_down_are_not_lost(synced_world: ConnectedOrg):
    org = synced_world
    contacts = org.fake.records("contacts", include_deleted=False)
    advance_both(org, 60)
    for record in contacts[:55]:  # more than a page of changes
        org.fake.mutate("contact", "update", record["id"], {"last_name": "First"})
    with pytest.raises(Crash):
        org.sync(fault=_crash_at("contacts", 1, "committed"))
    advance_both(org, 60)
    for record in contacts[:3] + contacts[60:63]:  # changed again while we were down
        org.fake.mutate("contact", "update", record["id"], {"last_name": "Second"})
    org.sync()

    clean = connect(org.db, org.config, org.clock, org.fake, "org_clean")
    clean.sync()
    # status_updated_at records when the winning status was first written: an organization
    # that synced earlier knows an older instant than a fresh one can, by design.
    assert _snapshot(org.db, "org_a", {"status_updated_at"}) == _snapshot(org.db, "org_clean", {"status_updated_at"})
    assert {org.row("contacts", r["id"])["last_name"] for r in contacts[:3]} == {"Second"}


@pytest.mark.parametrize("stale_cursor", [
    "expired-cursor",                          # no longer the server's cursor grammar: 400 naming query.cursor
    "bm90LWEtY3Vyc29yLWlzc3VlZC1oZXJl",       # well-formed, but no page the server issued: 404 invalid_cursor
])
def test_a_cursor_the_server_no_longer_accepts_restarts_from_the_high_water_mark(connected_org: ConnectedOrg,
                                                                                 stale_cursor: str):
    org = connected_org
    with pytest.raises(Crash):
        org.sync(fault=_crash_at("contacts", 2, "committed"))
    with org.db.transaction() as tx:
        tx.execute("UPDATE sync_state SET run_cursor = ? WHERE organization_id = 'org_a'"
                   " AND entity = 'contacts'", (stale_cursor,))
    org.sync()
    clean = connect(org.db, org.config, org.clock, org.fake, "org_clean")
    clean.sync()
    assert _snapshot(org.db, "org_a") == _snapshot(org.db, "org_clean")


def test_only_one_sync_per_organization_runs_at_a_time(connected_org: ConnectedOrg):
    org = connected_org
    seen: list[str] = []

    def nested(name: str, number: int, where: str) -> None:
        if not seen:
            seen.append(name)
            with pytest.raises(sync_engine.SyncBusy):
                org.sync()

    org.sync(fault=nested)
    assert seen
    org.sync()  # the lease was released

