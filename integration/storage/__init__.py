"""Storage for Broadcast's side: one small API over SQLite (default) and PostgreSQL.

Owns: the database handle and its connection pools (`database`), one transaction's statements
(`tx`), the portable SQL subset and its helpers — placeholders, `IN` lists of at most 500,
stored timestamps and JSON (`sql`) — and the schema with its migrations (`migrate`,
`migrations/`).

May import: `common` and libraries only. Every other package of `integration` may import it;
it imports none of them.

SQLAlchemy Core and Alembic — what is used, and why not more: Alembic runs the migrations and
SQLAlchemy's pool keeps SQLite connections; psycopg_pool keeps PostgreSQL's. The queries stay
plain SQL on the DBAPI connection (`tx`), because routing every statement through SQLAlchemy
Core (`text()` with named binds compiled per dialect, rows read as mappings, its QueuePool) cost
the engagement pipeline far more than the 10 % the project allows. Measured with
`AB_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test ab-harness bench --only delivery`,
the thin layer and a Core-backed `Tx` run alternately three times each on the shared 2-core
machine (load 2-8, so single runs vary a lot; medians):

    events ingested per second      thin layer   SQLAlchemy Core
    SQLite,     receiver run             2,615               690   (-74 %)
    PostgreSQL, receiver run               697               176   (-75 %)
    SQLite,     fake run                 2,938               752   (-74 %)
    PostgreSQL, fake run                   793               694   (-12 %)
    events delivered per second
    SQLite,     receiver run             9,901             1,752
    PostgreSQL, receiver run             5,323             3,715

Ingest runs a dozen small statements per event batch; the per-statement cost of Core shows
there. The sync and the re-score move rows in bulk (COPY / executemany) and would barely
notice, but one layer for all queries is the point, so the thin one stays — with sqlparse, not
our own tokenizer, for placeholders, and Alembic, not our own splitter, for migrations.
"""
from __future__ import annotations

from .database import Database, parse_url
from .sql import CHUNK, format_ts, from_json, in_lists, placeholders, to_json
from .tx import Tx

__all__ = ["CHUNK", "Database", "Tx", "format_ts", "from_json", "in_lists", "parse_url",
           "placeholders", "to_json"]
