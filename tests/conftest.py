"""Shared fixtures. Room-specific fixtures live in conftest files next to their tests."""
from __future__ import annotations

import os
import uuid
from typing import Iterator

import pytest

from common import serving
from integration.storage import Database


@pytest.fixture
def free_port() -> int:
    return serving.free_port()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL the suite must also pass on; `.ci/run` sets AB_TEST_POSTGRES_URL."""
    url = os.environ.get("AB_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL tests need AB_TEST_POSTGRES_URL (set by .ci/run to 127.0.0.1:5432/test)")
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            pass
    except Exception as exc:  # any connection failure means: not here
        pytest.skip(f"PostgreSQL at AB_TEST_POSTGRES_URL is not reachable: {exc}")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """A migrated, empty Broadcast database: a SQLite file, or a private schema on PostgreSQL."""
    if request.param == "sqlite":
        db = Database.from_url(f"sqlite:///{tmp_path / 'broadcast.sqlite3'}")
        db.migrate()
        yield db
        db.close()
        return
    db = Database.from_url(request.getfixturevalue("postgres_url"), schema=f"t_{uuid.uuid4().hex[:16]}")
    db.migrate()
    yield db
    db.drop_schema()
