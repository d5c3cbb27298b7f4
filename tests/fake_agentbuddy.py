"""A running fake AgentBuddy as the test suites use it: served on a free loopback port, with its
admin back door (`/__admin/`) and its public API read the way AgentBuddy's own UI would.

Shared by the integration and acceptance suites (each passes its own world size and clock).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import requests

import mock_agentbuddy
from common.serving import serve
from common.timestamps import format_rfc3339, parse_rfc3339
from harness.oauth import headless_token
from mock_agentbuddy.admin.client import AdminClient

# What the suites write into payloads and read back (microseconds, so nothing is rounded away).
iso = functools.partial(format_rfc3339, digits=6)
parse_iso = parse_rfc3339


@dataclass
class FakeAgentBuddy:
    url: str
    app: Any
    _world: dict[str, Any] | None = None
    _tokens: dict[int, str] = field(default_factory=dict)
    _admin: AdminClient | None = field(default=None, repr=False)

    @property
    def admin_api(self) -> AdminClient:
        """The fake's admin API (the one client the tests, the simulator and the kits share)."""
        if self._admin is None:
            self._admin = AdminClient(self.url)
        return self._admin

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        """A raw admin call (`AdminError` when the fake refuses it)."""
        return self.admin_api.call(method, path, **kwargs)

    def world(self) -> dict[str, Any]:
        if self._world is None:
            self._world = self.admin_api.world()
        return self._world

    def account_id(self, index: int = 0) -> str:
        return self.world()["accounts"][index]["id"]

    def agent_email(self, index: int = 0) -> str:
        agents = self.world()["accounts"][index]["agents"]
        return next(a["email"] for a in agents if a["is_active"] and not a["deleted_at"])

    def set_clock(self, instant: datetime, *, freeze: bool = True) -> None:
        self.admin_api.set_clock(instant, freeze=freeze)

    def advance(self, seconds: float) -> None:
        self.admin_api.advance(seconds)

    def now(self) -> datetime:
        return self.admin_api.now()

    def mutate(self, entity: str, op: str, record_id: str | None = None, changes: dict | None = None,
               account_id: str | None = None) -> dict[str, Any]:
        return self.admin_api.mutate(entity, op, record_id, changes, account_id)

    def faults(self, *faults: dict[str, Any], seed: int = 11) -> None:
        self.admin_api.set_faults(list(faults), seed=seed)

    def inbound(self) -> list[dict[str, Any]]:
        """Every webhook and push the fake received."""
        return self.admin_api.follow_inbound().all()

    def raw_record(self, entity: str, record_id: str) -> dict[str, Any]:
        """One record as the fake stores it, with the events it received (admin view)."""
        return self.admin("GET", f"records/{entity}/{record_id}")

    def token(self, account_index: int = 0) -> str:
        """A read token of the account's agent, kept until the fake says it expired."""
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
    served = serve(app, name="fake-agentbuddy")
    fake = FakeAgentBuddy(served.url, app)
    if clock_at is not None:
        fake.set_clock(clock_at)

    def stop() -> None:
        served.stop()
        mock_agentbuddy.stop_background(app)

    return fake, stop
