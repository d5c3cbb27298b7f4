"""One open transaction: run the portable SQL subset (`storage.sql`) and get rows as dicts.

Why plain SQL over a thin layer rather than SQLAlchemy Core: measured, not assumed — see
`storage/__init__.py` for the figures. The sync engine's speed comes from batched upserts and one
comparison query per page; the pipeline's from many small statements per transaction, where a
per-statement layer shows.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from .sql import Params, adapt_all, placeholders, to_pyformat


#: From this many rows on, a PostgreSQL upsert goes through COPY into a staging table.
COPY_MIN_ROWS = 100


class Tx:
    """Statements inside one transaction (see `Database.transaction`). Rows are plain dicts."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect

    def _sql(self, sql: str, has_params: bool) -> str:
        return to_pyformat(sql) if self.dialect == "postgresql" and has_params else sql

    def _run(self, sql: str, params: Params | None) -> Any:
        values = adapt_all(params)
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
        batch = list(rows) if adapted else [adapt_all(row) for row in rows]
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
        if len(rows) < COPY_MIN_ROWS:
            # A few rows (one webhook's contacts): psycopg pipelines an executemany in one round
            # trip, where staging costs four statements and a TRUNCATE's file work (~1.8 ms measured).
            with self._conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}){conflict}",
                                rows)
            return
        stage = f"_stage_{table}"
        with self._conn.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS)"
                        " ON COMMIT DELETE ROWS")
            cur.execute(f"DELETE FROM {stage}")  # emptied at commit; DELETE, not TRUNCATE: no new file per call
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

    @property
    def lock_rows(self) -> str:
        """` FOR UPDATE` on PostgreSQL (row locks), empty on SQLite (the writer holds the file)."""
        return " FOR UPDATE" if self.dialect == "postgresql" else ""

    def table_exists(self, name: str) -> bool:
        if self.dialect == "postgresql":
            return bool(self.fetchval("SELECT to_regclass(?) IS NOT NULL AS present", (name,)))
        return self.fetchone(
            "SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ) is not None
