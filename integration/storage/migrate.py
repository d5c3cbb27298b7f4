"""Bring a database to the newest schema with Alembic, safely from several processes at once.

The revisions live in `migrations/versions/` (one per SQL file of `migrations/sql/`). Alembic
runs them on a connection we open and lock first — SQLite `BEGIN IMMEDIATE`, a PostgreSQL
transaction-scoped advisory lock — so two processes migrating at once apply each revision
exactly once: the second waits, then finds nothing to do.

Databases created before Alembic kept their history in `schema_migrations` (one row per applied
SQL file, versions `0001`…). Such a database is adopted in the same locked transaction: stamped
at the newest version it applied (the revision ids are those versions), the old table dropped,
and whatever is newer applied as usual. Nothing else about it changes.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from .database import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
LEGACY_TABLE = "schema_migrations"


def upgrade(db: "Database") -> list[str]:
    """Apply pending revisions; returns the ids of those applied now (oldest first)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    with _locked_connection(db) as connection:
        before = _current(connection) or _adopt_legacy(connection, config)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        after = _current(connection)
    if after == before:
        return []
    applied = [revision.revision for revision in script.iterate_revisions(after, before)]
    return list(reversed(applied))


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _adopt_legacy(connection: Connection, config: Config) -> str | None:
    """Stamp a database migrated by the pre-Alembic runner at the last version it applied."""
    if not inspect(connection).has_table(LEGACY_TABLE):
        return None
    newest = connection.exec_driver_sql(f"SELECT MAX(version) FROM {LEGACY_TABLE}").scalar()
    if newest is None:
        return None
    config.attributes["connection"] = connection
    command.stamp(config, newest)
    connection.exec_driver_sql(f"DROP TABLE {LEGACY_TABLE}")
    return newest


@contextmanager
def _locked_connection(db: "Database") -> Iterator[Connection]:
    """A SQLAlchemy connection to `db` inside a transaction that holds the migration lock;
    committed when the block succeeds, rolled back (nothing applied) when it fails."""
    if db.dialect == "postgresql":
        raw = db.connect_postgres(autocommit=False)
        engine = create_engine("postgresql+psycopg://", creator=lambda: raw, poolclass=StaticPool)
    else:
        raw = db.connect_sqlite()
        engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)
    try:
        with engine.connect() as connection:
            if db.dialect == "postgresql":
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_lock_id(db),))
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
    finally:
        engine.dispose()
        raw.close()


def _lock_id(db: "Database") -> int:
    digest = hashlib.sha256(f"ab-harness-migrate:{db.schema or 'public'}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
