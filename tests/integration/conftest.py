"""Fixtures for Broadcast's side, read as user stories: a fake AgentBuddy is running, an
organization connected its account, the world was synced.

The fake runs in-process (werkzeug on a free loopback port, in a thread); the integration
talks to it only over HTTP. Both clocks are pinned to the same instant so token expiry and
webhook tolerance are deterministic.
"""
from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
import requests
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

import mock_agentbuddy
from integration import connections
from integration import sync as sync_engine
from integration.clock import ManualClock
from integration.config import IntegrationConfig
from integration.db import Database

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
SQLITE, POSTGRES = "sqlite", "postgresql"

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass
class FakeAgentBuddy:
    """A running fake and its admin back door (`/__admin/`)."""

    url: str
    app: Any
    _world: dict[str, Any] | None = None
    _tokens: dict[int, str] = field(default_factory=dict)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/__admin/{path}", timeout=10, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def world(self) -> dict[str, Any]:
        if self._world is None:
            self._world = self.admin("GET", "world")
        return self._world

    def account_id(self, index: int = 0) -> str:
        return self.world()["accounts"][index]["id"]

    def agent_email(self, index: int = 0) -> str:
        agents = self.world()["accounts"][index]["agents"]
        return next(a["email"] for a in agents if a["is_active"] and not a["deleted_at"])

    def set_clock(self, instant: datetime) -> None:
        self.admin("POST", "clock", json={"set": instant.isoformat().replace("+00:00", "Z"), "freeze": True})

    def advance(self, seconds: float) -> None:
        self.admin("POST", "clock", json={"advance_seconds": seconds})

    def mutate(self, entity: str, op: str, record_id: str | None = None, changes: dict | None = None,
               account_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"entity": entity, "op": op}
        if record_id:
            body["id"] = record_id
        if changes is not None:
            body["changes"] = changes
        if account_id:
            body["account_id"] = account_id
        return self.admin("POST", "mutate", json=body)

    def records(self, entity: str, account_index: int = 0, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Everything the account holds, read through the public API with a fresh token."""
        from harness.oauth import headless_token

        if account_index not in self._tokens:  # the fake's clock is frozen: a token lives for the test
            self._tokens[account_index] = headless_token(self.url, self.agent_email(account_index))["access_token"]
        token = self._tokens[account_index]
        out, cursor = [], None
        while True:
            params: dict[str, Any] = {"per_page": 500, "include_deleted": str(include_deleted).lower()}
            if cursor:
                params["cursor"] = cursor
            answer = requests.get(f"{self.url}/v1/{entity}", params=params, timeout=10,
                                  headers={"Authorization": f"Bearer {token}"})
            if answer.status_code == 401:  # our cached token expired on the fake's clock
                self._tokens.pop(account_index)
                return self.records(entity, account_index, include_deleted)
            body = answer.json()
            out.extend(body["data"])
            cursor = body["pagination"]["next_cursor"]
            if not cursor:
                return out


def start_fake(**overrides: Any) -> tuple[FakeAgentBuddy, Callable[[], None]]:
    options = dict(seed=7, accounts=2, contacts_per_account=70, auto_approve=True)
    options.update(overrides)
    app = mock_agentbuddy.create_app(mock_agentbuddy.MockConfig(**options), sleeper=lambda _s: None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake = FakeAgentBuddy(f"http://127.0.0.1:{server.server_port}", app)
    fake.set_clock(T0)

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

    return fake, stop


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


@pytest.fixture(params=[SQLITE, POSTGRES])
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """A migrated, empty database: a SQLite file, or a private schema on PostgreSQL."""
    if request.param == SQLITE:
        db = Database.from_url(f"sqlite:///{tmp_path / 'broadcast.sqlite3'}")
        db.migrate()
        yield db
        db.close()
        return
    url = request.getfixturevalue("postgres_url")
    db = Database.from_url(url, schema=f"t_{uuid.uuid4().hex[:16]}")
    db.migrate()
    yield db
    db.drop_schema()


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
