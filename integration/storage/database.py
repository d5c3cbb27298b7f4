"""The database handle: where connections come from and how a transaction begins and ends.

SQLite (the default: a file, or `sqlite:///:memory:`) and PostgreSQL (production) behind one
`transaction()`. Pooling is a library's job on both: `psycopg_pool.ConnectionPool` for
PostgreSQL (it discards broken connections, reconnects, bounds the pool) and SQLAlchemy's
`QueuePool` for SQLite files (psycopg_pool is PostgreSQL-only; SQLAlchemy is already here for
the migrations). An in-memory SQLite database lives in one connection, so its transactions take
turns on it (`StaticPool` plus a lock).

Transactions: `with db.transaction() as tx:` commits on success and rolls back on error. A
transaction opened inside another on the same thread joins the outer one (no deadlock on
SQLite's single writer). SQLite write transactions are `BEGIN IMMEDIATE`: the writer lock is
taken up front, so two writers queue on `busy_timeout` instead of failing at their first write.
"""
from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from sqlalchemy.pool import QueuePool, StaticPool

from .tx import Tx

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
POOL_SIZE = 8  # connections kept open; more are opened (and closed after use) under load


@dataclass(frozen=True)
class Target:
    """Where a database URL points: its dialect and how to open a connection to it."""

    dialect: str
    url: str
    sqlite_path: str | None = None
    in_memory: bool = False


def parse_url(url: str) -> Target:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path in ("", ":memory:"):
            # One private in-memory database, shared by the connections of this process.
            return Target("sqlite", url, f"file:mem_{uuid.uuid4().hex}?mode=memory&cache=shared", True)
        return Target("sqlite", url, path)
    if url.startswith(("postgresql://", "postgres://")):
        return Target("postgresql", url)
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///path/to/file.sqlite3 or postgresql://user@host/db"
    )


class Database:
    """A database handle: a connection pool, `transaction()` and `migrate()`.

    Kept whole: the pool, the per-thread current transaction and the migration run share one
    connection policy (dialect, schema search path, busy timeout), set in one place.
    """

    def __init__(self, target: Target, schema: str | None = None) -> None:
        if schema is not None and target.dialect != "postgresql":
            raise ValueError("schema= applies to PostgreSQL only")
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        self.target = target
        self.dialect = target.dialect
        self.url = target.url
        self.schema = schema
        self._local = threading.local()
        self._serial = threading.Lock() if target.in_memory else None
        self._pool: Any = self._open_pool()
        if target.in_memory:
            self._pool.connect().close()  # the database lives as long as its one connection: open it now

    @classmethod
    def from_url(cls, url: str, *, schema: str | None = None) -> "Database":
        return cls(parse_url(url), schema=schema)

    # -- connections

    def _open_pool(self) -> Any:
        if self.dialect == "postgresql":
            return ConnectionPool(self.url, min_size=1, max_size=POOL_SIZE * 4, open=True, name="broadcast",
                                  kwargs={"autocommit": True, "row_factory": dict_row},
                                  configure=self._configure_postgres)
        if self.target.in_memory:
            return StaticPool(self.connect_sqlite)
        return QueuePool(self.connect_sqlite, pool_size=POOL_SIZE, max_overflow=-1, reset_on_return=None)

    def _configure_postgres(self, conn: psycopg.Connection) -> None:
        if self.schema:
            try:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            except psycopg.errors.UniqueViolation:
                pass  # created concurrently by another connection
            conn.execute(f'SET search_path TO "{self.schema}"')

    def connect_postgres(self, *, autocommit: bool) -> psycopg.Connection:
        """A connection of its own, outside the pool, with plain tuple rows (migrations need a
        non-autocommit one, and SQLAlchemy reads rows by position)."""
        conn = psycopg.connect(self.url, autocommit=True)
        self._configure_postgres(conn)
        conn.autocommit = autocommit
        return conn

    def connect_sqlite(self) -> sqlite3.Connection:
        path = self.target.sqlite_path or ""
        if not self.target.in_memory:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30,
                               uri=self.target.in_memory)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        if not self.target.in_memory:
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pooled DBAPI connection; one that broke in use is discarded, not pooled again."""
        if self._pool is None:
            raise RuntimeError("database is closed")
        if self.dialect == "postgresql":
            with self._pool.connection() as conn:  # psycopg_pool checks a returned connection's state
                yield conn
            return
        if self._serial is not None:
            self._serial.acquire()
        fairy = self._pool.connect()
        try:
            yield fairy.dbapi_connection
        except sqlite3.DatabaseError as exc:
            if not isinstance(exc, sqlite3.OperationalError) or "locked" not in str(exc):
                fairy.invalidate(exc)
            raise
        finally:
            fairy.close()
            if self._serial is not None:
                self._serial.release()

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Tx]:
        """Commit on success, roll back on error. Nested calls join the outer transaction."""
        outer = getattr(self._local, "tx", None)
        if outer is not None:
            yield outer
            return
        with self._connection() as conn:
            tx = Tx(conn, self.dialect)
            self._local.tx = tx
            try:
                if self.dialect == "sqlite":
                    conn.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
                    try:
                        yield tx
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                    conn.execute("COMMIT")
                else:
                    with conn.transaction():
                        yield tx
            finally:
                self._local.tx = None

    def in_transaction(self) -> bool:
        """Whether this thread has a transaction open on this database (a new one would join it)."""
        return getattr(self._local, "tx", None) is not None

    def current_tx(self) -> Tx:
        """The transaction this thread has open (see `in_transaction`)."""
        tx = getattr(self._local, "tx", None)
        if tx is None:
            raise RuntimeError("no transaction is open on this thread")
        return tx

    def migrate(self) -> list[str]:
        """Bring the schema to the newest revision; returns the revisions applied now."""
        from .migrate import upgrade  # imports Alembic, which only migrating processes need

        return upgrade(self)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self.dialect == "postgresql":
            pool.close()
        else:
            pool.dispose()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def drop_schema(self) -> None:
        """Tests: remove this Database's PostgreSQL schema and everything in it."""
        if self.dialect != "postgresql" or not self.schema:
            raise ValueError("drop_schema() needs a PostgreSQL Database opened with schema=")
        schema = self.schema
        self.close()
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _enable_wal(conn: sqlite3.Connection) -> None:
    """WAL is a property of the file; switching needs a moment alone with it, so retry."""
    for attempt in range(200):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 199:
                raise
            time.sleep(0.05)
