"""The databases a benchmark measures on: SQLite always, PostgreSQL when a URL is given."""
from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator

from integration.storage import Database


def each_database(postgres_url: str | None, *, migrate: bool = True) -> Iterator[tuple[str, Database]]:
    """Yield ("sqlite", db), then ("postgresql", db) on a private schema; each is removed after use."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        db = Database.from_url(f"sqlite:///{tmp}/broadcast.sqlite3")
        try:
            if migrate:
                db.migrate()
            yield "sqlite", db
        finally:
            db.close()
    if postgres_url:
        db = Database.from_url(postgres_url, schema=f"bench_{uuid.uuid4().hex[:12]}")
        try:
            if migrate:
                db.migrate()
            yield "postgresql", db
        finally:
            db.drop_schema()
