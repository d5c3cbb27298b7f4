"""Fixtures that read as the user's story: a fake AgentBuddy (`mock_app`), an agent who
connected Broadcast and holds a token (`agent_token`), and the seeded `world` they see."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlparse

import pytest

from mock_agentbuddy import MockConfig, create_app, stop_background
from mock_agentbuddy.config import ALL_SCOPES

REDIRECT_URI = "http://127.0.0.1/callback"


class SleepRecorder:
    """Stands in for time.sleep: records what the fake wanted to wait, returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def small_config(**overrides) -> MockConfig:
    values = dict(auto_approve=True, strict=True, contacts_per_account=60, agents_per_account=5,
                  offices_per_account=3, rate_limit="100000/min")
    values.update(overrides)
    return MockConfig(**values)


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


def first_active_agent(world: dict, account_index: int = 0) -> dict:
    return next(a for a in world["accounts"][account_index]["agents"] if a["is_active"])


def obtain_token(client, email: str, scopes: str, client_id: str = "broadcast-local",
                 client_secret: str | None = "broadcast-local-secret") -> dict:
    """Authorization code + PKCE through the real OAuth endpoints, with auto-approve."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    answer = client.get("/oauth/authorize", query_string={
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": scopes,
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256", "login_hint": email})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    code = parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier, "client_id": client_id}
    auth = (client_id, client_secret) if client_secret else None
    token = client.post("/oauth/token", data=form, auth=auth)
    assert token.status_code == 200, token.get_data(as_text=True)
    return token.get_json()


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


class Api:
    def __init__(self, client, token: str) -> None:
        self.client, self.token = client, token

    def _headers(self, headers):
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, path, headers=None, **kwargs):
        return self.client.get(path, headers=self._headers(headers), **kwargs)

    def post(self, path, headers=None, **kwargs):
        return self.client.post(path, headers=self._headers(headers), **kwargs)

    def patch(self, path, headers=None, **kwargs):
        return self.client.patch(path, headers=self._headers(headers), **kwargs)

    def delete(self, path, headers=None, **kwargs):
        return self.client.delete(path, headers=self._headers(headers), **kwargs)


def sweep(api, path: str, mutate_between=None, **params) -> list[dict]:
    """Follow next_cursor to the end; `mutate_between(page_number)` runs between pages."""
    seen, cursor, page = [], None, 0
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = api.get(path, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen.extend(body["data"])
        cursor = body["pagination"]["next_cursor"]
        page += 1
        if not cursor:
            return seen
        if mutate_between:
            mutate_between(page)


@pytest.fixture
def live_mock(request):
    """Serve a fake on a free loopback port (real sockets, for requests-level behaviour).

    `live_mock(config)` -> (base_url, app); servers stop at the end of the test."""
    import threading

    from werkzeug.serving import make_server

    servers = []

    def start(config: MockConfig | None = None, sleeper=None):
        app = create_app(config or small_config(), sleeper=sleeper or SleepRecorder())
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread, app))
        return f"http://127.0.0.1:{server.server_port}", app

    yield start
    for server, thread, app in servers:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        stop_background(app)
