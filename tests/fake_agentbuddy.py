"""A running fake AgentBuddy as the test suites use it: served on a free loopback port, with its
admin back door (`/__admin/`) and its public API read the way AgentBuddy's own UI would.

Shared by the integration and acceptance suites (each passes its own world size and clock).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import requests
from werkzeug.serving import make_server

import mock_agentbuddy


def iso(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class FakeAgentBuddy:
    url: str
    app: Any
    _world: dict[str, Any] | None = None
    _tokens: dict[int, str] = field(default_factory=dict)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/__admin/{path}", timeout=30, **kwargs)
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

    def set_clock(self, instant: datetime, *, freeze: bool = True) -> None:
        self.admin("POST", "clock", json={"set": iso(instant), "freeze": freeze})

    def advance(self, seconds: float) -> None:
        self.admin("POST", "clock", json={"advance_seconds": seconds})

    def now(self) -> datetime:
        return parse_iso(self.admin("GET", "clock")["now"])

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

    def faults(self, *faults: dict[str, Any], seed: int = 11) -> None:
        self.admin("POST", "faults", json={"faults": list(faults), "seed": seed})

    def inbound(self) -> list[dict[str, Any]]:
        entries, since = [], 0
        while True:
            page = self.admin("GET", "inbound", params={"since": since, "limit": 1000})["entries"]
            if not page:
                return entries
            entries.extend(page)
            since = page[-1]["seq"]

    def raw_record(self, entity: str, record_id: str) -> dict[str, Any]:
        """One record as the fake stores it, with the events it received (admin view)."""
        return self.admin("GET", f"records/{entity}/{record_id}")

    def token(self, account_index: int = 0) -> str:
        """A read token of the account's agent, kept until the fake says it expired."""
        from harness.oauth import headless_token

        if account_index not in self._tokens:
            self._tokens[account_index] = headless_token(self.url, self.agent_email(account_index))["access_token"]
        return self._tokens[account_index]

    def get(self, path: str, account_index: int = 0, **params: Any) -> dict[str, Any]:
        """GET on the public API, as AgentBuddy's own UI would read a record."""
        for _ in range(2):
            response = requests.get(f"{self.url}/v1/{path}", params=params, timeout=30,
                                    headers={"Authorization": f"Bearer {self.token(account_index)}"})
            if response.status_code != 401:
                break
            self._tokens.pop(account_index, None)  # our token expired as the clocks moved on: sign in again
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def records(self, entity: str, account_index: int = 0, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Everything the account holds, through the public API."""
        out, cursor = [], None
        while True:
            params: dict[str, Any] = {"per_page": 500, "include_deleted": str(include_deleted).lower()}
            if cursor:
                params["cursor"] = cursor
            body = self.get(entity, account_index, **params)
            out.extend(body["data"])
            cursor = body["pagination"]["next_cursor"]
            if not cursor:
                return out


def start_fake(clock_at: datetime | None, **options: Any) -> tuple[FakeAgentBuddy, Callable[[], None]]:
    """Serve a fake built from `MockConfig(**options)`; its clock frozen at `clock_at` (None: wall time)."""
    app = mock_agentbuddy.create_app(mock_agentbuddy.MockConfig(**options), sleeper=lambda _s: None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake = FakeAgentBuddy(f"http://127.0.0.1:{server.server_port}", app)
    if clock_at is not None:
        fake.set_clock(clock_at)

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

    return fake, stop
