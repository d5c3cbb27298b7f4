"""Fixtures for the spec's success criteria: a fake AgentBuddy, and Acme Realty's Broadcast on
SQLite and on PostgreSQL (a private schema per test; skipped with the reason where PostgreSQL
is absent)."""
from __future__ import annotations

from typing import Iterator

import pytest

from .support import DATABASES, Broadcast, FakeAgentBuddy, make_broadcast, open_database, start_fake


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path):
    db, close = open_database(request.param, tmp_path, lambda: request.getfixturevalue("postgres_url"))
    yield db
    close()


@pytest.fixture
def fake() -> Iterator[FakeAgentBuddy]:
    """One seeded account of 60 contacts, auto-approving, its clock frozen at the suite's T0."""
    agentbuddy, stop = start_fake()
    yield agentbuddy
    stop()


@pytest.fixture
def broadcast(database, fake: FakeAgentBuddy) -> Broadcast:
    """Acme Realty's Broadcast, not yet connected, its clock at the fake's."""
    return make_broadcast(database, fake)


@pytest.fixture
def synced(broadcast: Broadcast) -> Broadcast:
    """Connected to AgentBuddy and through its initial sync."""
    broadcast.connect()
    broadcast.sync()
    return broadcast
