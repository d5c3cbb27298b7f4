"""The storage layer behaves the same on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from integration.db import Database, _to_pyformat, format_ts, parse_ts, split_statements, to_json

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)


def test_timestamps_have_one_fixed_width_shape_so_text_order_is_time_order():
    early = format_ts(datetime(2026, 1, 10, 12, 0, 0, 5, tzinfo=timezone.utc))
    late = format_ts(datetime(2026, 1, 10, 13, 0, tzinfo=timezone(timedelta(hours=1))) + timedelta(seconds=1))
    assert early == "2026-01-10T12:00:00.000005Z"
    assert late == "2026-01-10T12:00:01.000000Z"
    assert early < late
    assert parse_ts("2026-01-10T12:00:01Z") == parse_ts(late)
    with pytest.raises(ValueError):
        format_ts(datetime(2026, 1, 10))


def test_qmark_becomes_pyformat_outside_quotes_and_percent_is_escaped():
    sql = "SELECT '?', x FROM t WHERE a = ? AND b LIKE 'a%' -- why?\n AND c = ?"
    assert _to_pyformat(sql) == "SELECT '?', x FROM t WHERE a = %s AND b LIKE 'a%%' -- why?\n AND c = %s"


def test_migration_scripts_split_on_semicolons_outside_quotes_and_comments():
    script = "CREATE TABLE a (x TEXT DEFAULT ';'); -- a; comment\nCREATE TABLE b (y INTEGER);\n"
    assert split_statements(script) == ["CREATE TABLE a (x TEXT DEFAULT ';')", "CREATE TABLE b (y INTEGER)"]


def test_migrate_applies_each_file_once(database: Database):
    assert database.migrate() == []
    with database.transaction() as tx:
        versions = [r["version"] for r in tx.fetchall("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions[0] == "0001"
        for table in ("organizations", "connections", "contacts", "sync_state", "quarantine"):
            assert tx.table_exists(table)
        assert not tx.table_exists("no_such_table")


def test_two_processes_migrating_at_once_apply_everything_exactly_once(tmp_path, request):
    """Separate Database objects stand in for processes: separate connections, same file/schema."""
    targets = [(f"sqlite:///{tmp_path / 'race.sqlite3'}", None)]
    try:
        targets.append((request.getfixturevalue("postgres_url"), f"t_{uuid.uuid4().hex[:16]}"))
    except pytest.skip.Exception:
        pass
    for url, schema in targets:
        results: list[list[str]] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with Database.from_url(url, schema=schema) as db:
                    results.append(db.migrate())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        applied = sorted(v for r in results for v in r)
        assert applied == sorted(set(applied)) and "0001" in applied
        if schema:
            Database.from_url(url, schema=schema).drop_schema()


def test_transaction_commits_or_rolls_back_as_a_whole(database: Database):
    with database.transaction() as tx:
        tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)",
                   ("org_1", "One % Realty", NOW))
    with pytest.raises(RuntimeError):
        with database.transaction() as tx:
            tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)",
                       ("org_2", "Two", NOW))
            raise RuntimeError("boom")
    with database.transaction(readonly=True) as tx:
        rows = tx.fetchall("SELECT organization_id, name, created_at FROM organizations WHERE name LIKE '%Realty'")
        assert rows == [{"organization_id": "org_1", "name": "One % Realty", "created_at": "2026-01-10T12:00:00.000000Z"}]
        assert tx.fetchval("SELECT count(*) AS n FROM organizations") == 1


def test_nested_transaction_joins_the_outer_one(database: Database):
    with pytest.raises(RuntimeError):
        with database.transaction() as outer:
            outer.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)",
                          ("org_1", "One", NOW))
            with database.transaction() as inner:
                assert inner is outer
            raise RuntimeError("undo both")
    with database.transaction() as tx:
        assert tx.fetchval("SELECT count(*) AS n FROM organizations") == 0


def test_upsert_booleans_and_json_round_trip_identically(database: Database):
    with database.transaction() as tx:
        tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)", ("o", "O", NOW))
    sql = ("INSERT INTO contacts (organization_id, id, email_opt_in, tags, ab_updated_at, synced_at)"
           " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (organization_id, id) DO UPDATE SET"
           " email_opt_in = excluded.email_opt_in, tags = excluded.tags")
    with database.transaction() as tx:
        tx.executemany(sql, [("o", "c1", True, to_json(["VIP"]), NOW, NOW), ("o", "c2", False, "[]", NOW, NOW)])
        tx.execute(sql, ("o", "c1", False, to_json(["VIP", "Investor"]), NOW, NOW))
    with database.transaction(readonly=True) as tx:
        rows = tx.fetchall("SELECT id, email_opt_in, tags FROM contacts WHERE organization_id = ? ORDER BY id", ("o",))
    assert rows == [{"id": "c1", "email_opt_in": 0, "tags": '["VIP","Investor"]'},
                    {"id": "c2", "email_opt_in": 0, "tags": "[]"}]


def test_in_memory_sqlite_is_shared_by_threads_of_one_database():
    with Database.from_url("sqlite:///:memory:") as db:
        db.migrate()

        def insert(i: int) -> None:
            with db.transaction() as tx:
                tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)",
                           (f"o{i}", "x", NOW))

        threads = [threading.Thread(target=insert, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with db.transaction() as tx:
            assert tx.fetchval("SELECT count(*) AS n FROM organizations") == 8


def test_unsupported_urls_and_bad_schema_names_are_refused():
    with pytest.raises(ValueError, match="unsupported database URL"):
        Database.from_url("mysql://x")
    with pytest.raises(ValueError, match="schema"):
        Database.from_url("postgresql://x/y", schema="bad; drop")
