"""Fixtures that read as the user's story: a fake AgentBuddy (`mock_app`), an agent who
connected Broadcast and holds a token (`agent_token`), and the seeded `world` they see."""
from __future__ import annotations

import pytest

from common.serving import serve
from mock_agentbuddy import MockConfig, create_app, stop_background
from mock_agentbuddy.config import ALL_SCOPES
from .mock_helpers import Api, SleepRecorder, first_active_agent, obtain_token, small_config


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def mock_config() -> MockConfig:
    return small_config()


@pytest.fixture
def mock_app(mock_config, sleeps):
    app = create_app(mock_config, sleeper=sleeps)
    yield app
    stop_background(app)


@pytest.fixture
def client(mock_app):
    return mock_app.test_client()


@pytest.fixture
def world(client) -> dict:
    """What `/__admin/world` says: accounts with offices and agents, clients, connections."""
    return client.get("/__admin/world").get_json()


@pytest.fixture
def agent_token(client, world):
    """`agent_token(scopes=..., account=0)` -> a bearer token of an active agent of that account."""

    def issue(scopes: str = " ".join(ALL_SCOPES), account: int = 0) -> str:
        return obtain_token(client, first_active_agent(world, account)["email"], scopes)["access_token"]

    return issue


@pytest.fixture
def api(client, agent_token):
    """An API caller holding a full-scope token of account 0: `api.get("/v1/contacts")`."""
    return Api(client, agent_token())


@pytest.fixture
def live_mock(request):
    """Serve a fake on a free loopback port (real sockets, for requests-level behaviour).

    `live_mock(config)` -> (base_url, app); servers stop at the end of the test."""
    servers = []

    def start(config: MockConfig | None = None, sleeper=None):
        app = create_app(config or small_config(), sleeper=sleeper or SleepRecorder())
        served = serve(app, name="mock")
        servers.append((served, app))
        return served.url, app

    yield start
    for served, app in servers:
        served.stop()
        stop_background(app)
