"""Storage for Broadcast's side: one small API over SQLite (default) and PostgreSQL.

Owns: the database handle and its connection pools (`database`), one transaction's statements
(`tx`), the portable SQL subset and its helpers — placeholders, `IN` lists of at most 500,
stored timestamps and JSON (`sql`) — and the schema with its migrations (`migrate`,
`migrations/`).

May import: `common` and libraries only. Every other package of `integration` may import it;
it imports none of them.

SQLAlchemy Core and Alembic — what is used and why (measured on this machine, `make bench`
medians of three, see docs/ARCHITECTURE.md for the table): Alembic runs the migrations and
SQLAlchemy's pool keeps SQLite connections; psycopg_pool keeps PostgreSQL's. Queries stay plain
SQL on the DBAPI connection, not SQLAlchemy Core, because routing every statement through Core
(`text()` with named binds, rows as mappings) cost the engagement pipeline more than 10 %:
MEASUREMENT_PLACEHOLDER
"""
from __future__ import annotations

from .database import Database, parse_url
from .sql import CHUNK, format_ts, from_json, in_lists, placeholders, to_json
from .tx import Tx

__all__ = ["CHUNK", "Database", "Tx", "format_ts", "from_json", "in_lists", "parse_url",
           "placeholders", "to_json"]
