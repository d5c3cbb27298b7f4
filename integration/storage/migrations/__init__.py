"""Alembic's migration environment for Broadcast's schema (run by `storage.migrate`).

Each revision in `versions/` applies one SQL file of `sql/` — the schema stays readable as SQL,
in the portable subset both databases accept — split into statements by `sqlparse`. Where the
two databases spell something differently (a generated key), the revision says it with
SQLAlchemy instead, which knows both spellings.
"""
from __future__ import annotations

from pathlib import Path

import sqlparse
from alembic import op

SQL_DIR = Path(__file__).resolve().parent / "sql"


def run_sql(name: str) -> None:
    """Execute every statement of `sql/<name>` on the migration's connection, in order."""
    script = (SQL_DIR / name).read_text(encoding="utf-8")
    connection = op.get_bind()
    for statement in sqlparse.split(script):
        if sqlparse.format(statement, strip_comments=True).strip(" \n;"):
            connection.exec_driver_sql(statement)
