"""Fixtures for the conformance kit's tests: a fake AgentBuddy (auto-approving, as a partner's
sandbox would for headless runs, with any `MockConfig` option such as `defects=`), optionally
behind a WSGI middleware that hides its admin API, and the kit run through the real command line."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
import requests
from click.testing import CliRunner

import mock_agentbuddy
from common.serving import serve
from harness.cli import main


@dataclass
class Served:
    url: str  # what the kit is given
    admin_url: str  # the same fake, admin API open (for the state hook and the test only)
    hits: list[tuple[str, int]]  # (path, status) of every request that reached the public server

    def world(self) -> dict[str, Any]:
        return requests.get(f"{self.admin_url}/__admin/world", timeout=10).json()

    def agent(self, account_index: int) -> str:
        account = self.world()["accounts"][account_index]
        return next(a["email"] for a in account["agents"] if a["is_active"] and not a["deleted_at"])


def _serve(app) -> tuple[str, Callable[[], None]]:
    served = serve(app, name="conformance")
    return served.url, served.stop


@pytest.fixture
def serve_fake() -> Iterator[Callable[..., Served]]:
    """`serve_fake(middleware=None, **MockConfig options)`: the fake on two ports, one app."""
    stops: list[Callable[[], None]] = []
    apps = []

    def start(middleware: Callable | None = None, **options: Any) -> Served:
        app = mock_agentbuddy.create_app(mock_agentbuddy.MockConfig(auto_approve=True, **options),
                                         sleeper=lambda _s: None)
        apps.append(app)
        hits: list[tuple[str, int]] = []
        public = _recording(middleware(app.wsgi_app) if middleware else app.wsgi_app, hits)
        url, stop_public = _serve(public)
        admin_url, stop_admin = _serve(app)
        stops.extend([stop_public, stop_admin])
        return Served(url, admin_url, hits)

    yield start
    for stop in stops:
        stop()
    for app in apps:
        mock_agentbuddy.stop_background(app)


def _recording(app, hits: list):
    def wrapped(environ, start_response):
        def recorder(status, headers, exc_info=None):
            hits.append((environ.get("PATH_INFO", ""), int(status.split(" ", 1)[0])))
            return start_response(status, headers, exc_info)
        return app(environ, recorder)
    return wrapped


@dataclass
class KitRun:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def ids(self, status: str) -> set[str]:
        return {c["id"] for c in self.report["checks"] if c["status"] == status}


@pytest.fixture
def kit() -> Callable[..., KitRun]:
    """Run `ab-harness ARGS…` in-process, as a user would type it."""

    def run(*args: str) -> KitRun:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        return KitRun(result.exit_code, result.stdout, result.stderr)

    return run
