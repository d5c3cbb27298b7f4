"""Storage for Broadcast's side: one small API over SQLite (default) and PostgreSQL.

Why a thin layer of our own rather than an ORM: the sync engine's speed comes from batched
`executemany` upserts and one comparison query per page, and both need plain SQL that runs
unchanged on both databases. The rules of that portable subset:

* Placeholders are always qmark: `?`. On PostgreSQL each `?` outside quotes becomes `%s` and a
  literal `%` becomes `%%` (cached per statement), so SQL in this codebase never uses `%s`.
* Timestamps are TEXT in ISO-8601 UTC with a `Z` and microseconds
  (`2026-01-10T14:22:00.000000Z`, see `format_ts`): fixed width, so string order is time order.
  Any `datetime` passed as a parameter is converted this way automatically.
* JSON is TEXT (`to_json`, compact with sorted keys, so equal values compare equal as text).
* Booleans are INTEGER 0/1 (`True`/`False` parameters are converted automatically).
* Upserts are `INSERT ... ON CONFLICT (...) DO UPDATE SET col = excluded.col`; `RETURNING`
  works on both (SQLite >= 3.35).
* Migrations (`integration/migrations/NNNN_name.sql`) use TEXT, INTEGER, BIGINT,
  DOUBLE PRECISION, and the macro `AUTO_ID` for a generated integer primary key. They are split
  on `;` outside quotes and comments, and applied once each, in order, inside one transaction
  that holds a lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL advisory lock), so two processes
  migrating at once is safe.

Transactions: `with db.transaction() as tx:` commits on success and rolls back on error. A
transaction opened inside another on the same thread joins the outer one (no deadlock on
SQLite's single writer). Connections come from a small pool, one per concurrent transaction.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_FILE = re.compile(r"^(\d{4})_[A-Za-z0-9_]+\.sql$")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MAX_IDLE = 8

Params = Sequence[Any]


# ----------------------------------------------------------------------------- values

def format_ts(value: datetime) -> str:
    """The one stored shape of a timestamp: UTC, microseconds, `Z`."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str) -> datetime:
    """Parse an ISO-8601 timestamp (`Z` or offset) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone")
    return parsed.astimezone(timezone.utc)


def normalize_ts(value: str | None) -> str | None:
    """Re-render an ISO-8601 string in the stored shape (None stays None)."""
    return None if value is None else format_ts(parse_ts(value))


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def from_json(value: str | None, default: Any = None) -> Any:
    return default if value is None else json.loads(value)


def placeholders(count: int) -> str:
    """`?, ?, ?` for an IN list of `count` values."""
    if count < 1:
        raise ValueError("an IN list needs at least one value")
    return ", ".join("?" * count)


def _adapt(value: Any) -> Any:
    if value is True or value is False:
        return int(value)
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _adapt_params(params: Params | None) -> tuple[Any, ...]:
    return () if not params else tuple(_adapt(value) for value in params)


@functools.lru_cache(maxsize=512)
def _to_pyformat(sql: str) -> str:
    """qmark -> psycopg's `%s`, skipping quoted text and comments; `%` is escaped everywhere."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i:end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "?":
            out.append("%s")
            i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def split_statements(script: str) -> list[str]:
    """Split a migration on `;` outside quotes and `--` comments; drop empty statements."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(script)
    while i < n:
        ch = script[i]
        if ch in ("'", '"'):
            end = script.find(ch, i + 1)
            end = n - 1 if end == -1 else end
            current.append(script[i:end + 1])
            i = end + 1
        elif script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end == -1 else end
        elif ch == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(ch)
            i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


# ----------------------------------------------------------------------------- transactions

class Tx:
    """One open transaction. Rows come back as plain dicts."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect

    def _sql(self, sql: str, has_params: bool) -> str:
        return _to_pyformat(sql) if self.dialect == "postgresql" and has_params else sql

    def _run(self, sql: str, params: Params | None) -> Any:
        values = _adapt_params(params)
        if self.dialect == "postgresql":
            cur = self._conn.cursor()
            cur.execute(self._sql(sql, bool(values)), values or None)
            return cur
        return self._conn.execute(sql, values)

    def execute(self, sql: str, params: Params | None = None) -> int:
        """Run one statement; returns the number of rows it changed (-1 if unknown)."""
        cur = self._run(sql, params)
        try:
            return cur.rowcount
        finally:
            cur.close()

    def executemany(self, sql: str, rows: Iterable[Params], *, adapted: bool = False) -> None:
        """`adapted=True` skips parameter conversion: the caller passes only str/int/float/None."""
        batch = list(rows) if adapted else [_adapt_params(row) for row in rows]
        if not batch:
            return
        if self.dialect == "postgresql":
            with self._conn.cursor() as cur:
                cur.executemany(self._sql(sql, True), batch)
        else:
            self._conn.executemany(sql, batch)

    def bulk_upsert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        key: Sequence[str],
        update: Sequence[str],
    ) -> None:
        """Insert rows, or update `update` columns of rows whose `key` exists; the fast path.

        SQLite: one `executemany` of an `INSERT ... ON CONFLICT DO UPDATE`. PostgreSQL: COPY into
        a temporary staging table, then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE` (hundreds
        of single-row statements cost a round of parsing and planning each). Values must already
        be adapted (str/int/float/None); rows must have distinct keys.
        """
        if not rows:
            return
        names = ", ".join(columns)
        conflict = (
            f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)
            if update else f" ON CONFLICT ({', '.join(key)}) DO NOTHING"
        )
        if self.dialect != "postgresql":
            self._conn.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({placeholders(len(columns))}){conflict}", rows
            )
            return
        stage = f"_stage_{table}"
        with self._conn.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS)"
                        " ON COMMIT DELETE ROWS")
            cur.execute(f"TRUNCATE {stage}")
            with cur.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}{conflict}")

    def fetchall(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        cur = self._run(sql, params)
        try:
            rows = cur.fetchall()
        finally:
            cur.close()
        return rows if self.dialect == "postgresql" else [dict(row) for row in rows]

    def fetchone(self, sql: str, params: Params | None = None) -> dict[str, Any] | None:
        cur = self._run(sql, params)
        try:
            row = cur.fetchone()
        finally:
            cur.close()
        if row is None:
            return None
        return row if self.dialect == "postgresql" else dict(row)

    def fetchval(self, sql: str, params: Params | None = None) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else next(iter(row.values()), None)

    def table_exists(self, name: str) -> bool:
        if self.dialect == "postgresql":
            return bool(self.fetchval("SELECT to_regclass(?) IS NOT NULL AS present", (name,)))
        return self.fetchone(
            "SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ) is not None


# ----------------------------------------------------------------------------- database

@dataclass(frozen=True)
class _Target:
    dialect: str
    url: str
    sqlite_path: str | None = None
    sqlite_uri: bool = False


def _parse_url(url: str) -> _Target:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path in ("", ":memory:"):
            # One private in-memory database, used by one connection at a time (see Database).
            return _Target("sqlite", url, f"file:mem_{uuid.uuid4().hex}?mode=memory&cache=shared", True)
        return _Target("sqlite", url, path)
    if url.startswith(("postgresql://", "postgres://")):
        return _Target("postgresql", url)
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///path/to/file.sqlite3 or postgresql://user@host/db"
    )


class Database:
    """A database handle: a connection pool plus `transaction()` and `migrate()`."""

    def __init__(self, target: _Target, schema: str | None = None) -> None:
        if schema is not None and target.dialect != "postgresql":
            raise ValueError("schema= applies to PostgreSQL only")
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        self._target = target
        self.dialect = target.dialect
        self.url = target.url
        self.schema = schema
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._closed = False
        # An in-memory SQLite database lives in one connection; transactions take turns on it.
        self._keeper = self._connect() if target.sqlite_uri else None
        self._serial = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, schema: str | None = None) -> "Database":
        return cls(_parse_url(url), schema=schema)

    # -- connections

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            path = self._target.sqlite_path or ""
            if not self._target.sqlite_uri:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30, uri=self._target.sqlite_uri
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            if not self._target.sqlite_uri:
                _enable_wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        import psycopg
        from psycopg.rows import dict_row

        conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row)
        if self.schema:
            try:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            except psycopg.errors.UniqueViolation:
                pass  # created concurrently by another connection
            conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def _acquire(self) -> Any:
        if self._closed:
            raise RuntimeError("database is closed")
        if self._keeper is not None:
            self._serial.acquire()
            return self._keeper
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _release(self, conn: Any, broken: bool) -> None:
        if conn is self._keeper:
            self._serial.release()
            return
        with self._lock:
            if not broken and not self._closed and len(self._idle) < _MAX_IDLE:
                self._idle.append(conn)
                return
        try:
            conn.close()
        except Exception:
            pass

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Tx]:
        """Commit on success, roll back on error. Nested calls join the outer transaction."""
        outer = getattr(self._local, "tx", None)
        if outer is not None:
            yield outer
            return
        conn = self._acquire()
        tx = Tx(conn, self.dialect)
        broken = False
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
        except Exception as exc:
            broken = _is_connection_error(exc)
            raise
        finally:
            self._local.tx = None
            self._release(conn, broken)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema

    def migrate(self, directory: Path = MIGRATIONS_DIR) -> list[str]:
        """Apply pending migrations in order; returns the versions applied now."""
        files = sorted(p for p in directory.iterdir() if _MIGRATION_FILE.match(p.name))
        applied_now: list[str] = []
        with self.transaction() as tx:
            if self.dialect == "postgresql":
                tx.execute("SELECT pg_advisory_xact_lock(?)", (self._lock_id(),))
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {row["version"] for row in tx.fetchall("SELECT version FROM schema_migrations")}
            for path in files:
                version = path.name[:4]
                if version in done:
                    continue
                for statement in split_statements(self._render(path.read_text(encoding="utf-8"))):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, path.name, datetime.now(timezone.utc)),
                )
                applied_now.append(version)
        return applied_now

    def _render(self, script: str) -> str:
        auto_id = (
            "INTEGER PRIMARY KEY AUTOINCREMENT"
            if self.dialect == "sqlite"
            else "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        )
        return re.sub(r"\bAUTO_ID\b", auto_id, script)

    def _lock_id(self) -> int:
        digest = hashlib.sha256(f"ab-harness-migrate:{self.schema or 'public'}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def drop_schema(self) -> None:
        """Tests: remove this Database's PostgreSQL schema and everything in it."""
        if self.dialect != "postgresql" or not self.schema:
            raise ValueError("drop_schema() needs a PostgreSQL Database opened with schema=")
        schema = self.schema
        self.close()
        import psycopg

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


def _is_connection_error(exc: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, psycopg.OperationalError)
