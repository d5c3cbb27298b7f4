"""Fixtures for Broadcast's side, read as user stories: a fake AgentBuddy is running, an
organization connected its account, the world was synced.

The fake runs in-process (werkzeug on a free loopback port, in a thread); the integration
talks to it only over HTTP. Both clocks are pinned to the same instant so token expiry and
webhook tolerance are deterministic.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
from cryptography.fernet import Fernet

from integration.agentbuddy import connections
from integration import sync as sync_engine
from common.clock import ManualClock
from integration.config import IntegrationConfig
from integration.storage import Database

from ..fake_agentbuddy import FakeAgentBuddy, start_fake as shared_start_fake

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def start_fake(**overrides: Any) -> tuple[FakeAgentBuddy, Callable[[], None]]:
    """Two auto-approving accounts of 70 contacts, the fake's clock frozen at T0."""
    options: dict[str, Any] = dict(seed=7, accounts=2, contacts_per_account=70, auto_approve=True)
    options.update(overrides)
    return shared_start_fake(T0, **options)


@pytest.fixture
def fake_agentbuddy() -> Iterator[FakeAgentBuddy]:
    """A fake AgentBuddy with two accounts, auto-approving, its clock frozen at T0."""
    fake, stop = start_fake()
    yield fake
    stop()


@pytest.fixture
def token_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def config(fake_agentbuddy: FakeAgentBuddy, token_key: str) -> IntegrationConfig:
    return IntegrationConfig(
        agentbuddy_url=fake_agentbuddy.url,
        token_key=token_key,
        redirect_uri="http://127.0.0.1/callback",
        sync_page_size=50,
        http_backoff_factor=0.01,
    )


@dataclass
class ConnectedOrg:
    organization_id: str
    account_id: str
    db: Database
    config: IntegrationConfig
    clock: ManualClock
    fake: FakeAgentBuddy

    def sync(self, **kwargs: Any) -> sync_engine.SyncSummary:
        return sync_engine.sync(self.db, self.config, self.organization_id, clock=self.clock, **kwargs)

    def rows(self, table: str, order: str = "id") -> list[dict[str, Any]]:
        with self.db.transaction(readonly=True) as tx:
            return tx.fetchall(f"SELECT * FROM {table} WHERE organization_id = ? ORDER BY {order}",
                               (self.organization_id,))

    def row(self, table: str, record_id: str) -> dict[str, Any] | None:
        with self.db.transaction(readonly=True) as tx:
            return tx.fetchone(f"SELECT * FROM {table} WHERE organization_id = ? AND id = ?",
                               (self.organization_id, record_id))


def connect(db: Database, config: IntegrationConfig, clock: ManualClock, fake: FakeAgentBuddy,
            organization_id: str = "org_a", account_index: int = 0) -> ConnectedOrg:
    connections.connect_headless(db, config, organization_id, fake.agent_email(account_index), clock=clock)
    return ConnectedOrg(organization_id, fake.account_id(account_index), db, config, clock, fake)


@pytest.fixture
def connected_org(database: Database, config: IntegrationConfig, clock: ManualClock,
                  fake_agentbuddy: FakeAgentBuddy) -> ConnectedOrg:
    """Organization org_a connected its AgentBuddy account (the fake's first account)."""
    return connect(database, config, clock, fake_agentbuddy)


@pytest.fixture
def synced_world(connected_org: ConnectedOrg) -> ConnectedOrg:
    """org_a connected and ran its initial sync."""
    connected_org.sync()
    return connected_org


def advance_both(org: ConnectedOrg, seconds: float) -> None:
    org.clock.advance(timedelta(seconds=seconds))
    org.fake.advance(seconds)
