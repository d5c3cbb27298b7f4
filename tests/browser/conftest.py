"""Browser fixtures: Debian's Chromium driven by Playwright (sync API), servers on free ports.

Only `/usr/bin/chromium` is used — never a browser Playwright downloads — so these tests run
where `.ci/run` installed it and skip with the reason everywhere else.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _why_not() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests need the playwright package"
    return None


REASON = _why_not()


def pytest_collection_modifyitems(config, items) -> None:
    if REASON is None:
        return
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=REASON))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watched:
    """A page plus every console error and uncaught page error it produced."""

    page: object
    problems: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        assert self.problems == [], "the pages logged errors:\n" + "\n".join(self.problems)


@pytest.fixture
def person(browser) -> Iterator[Watched]:
    """One person's browser window (fresh cookies), watched for console and page errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watched = Watched(page)
    page.on("console", lambda msg: watched.problems.append(f"console {msg.type}: {msg.text} @ {page.url}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watched.problems.append(f"page error: {exc} @ {page.url}"))
    page.on("dialog", lambda dialog: dialog.accept())  # "Disconnect AgentBuddy?" -> yes
    try:
        yield watched
    finally:
        context.close()


@dataclass
class Stack:
    """The fake AgentBuddy (people log in; no auto-approve) and Broadcast, on free loopback ports."""

    fake_url: str
    broadcast_url: str
    fake_state: object
    db: object
    config: object
    agent_email: str
    fake_server: object = None
    password: str = "agentbuddy"

    @property
    def settings_url(self) -> str:
        return self.broadcast_url + "/settings/integrations/agentbuddy"


def agent_login(fake_url: str) -> str:
    """An active agent's email, read the way a tester would: from the fake's /__admin/world."""
    import requests

    world = requests.get(fake_url + "/__admin/world", timeout=10).json()
    account = world["accounts"][0]
    return next(a["email"] for a in account["agents"] if a["is_active"] and not a["deleted_at"])


@pytest.fixture
def stack(tmp_path) -> Iterator[Stack]:
    from cryptography.fernet import Fernet

    from common.serving import serve
    from integration.config import IntegrationConfig
    from integration.storage import Database
    from integration.web import create_app as create_broadcast
    from mock_agentbuddy import MockConfig, create_app as create_fake, state_of

    fake_app = create_fake(MockConfig(seed=7, accounts=1, contacts_per_account=40, agents_per_account=4,
                                      offices_per_account=2, auto_approve=False))
    fake = serve(fake_app)
    config = IntegrationConfig(database_url=f"sqlite:///{tmp_path / 'broadcast.sqlite3'}", agentbuddy_url=fake.url,
                               token_key=Fernet.generate_key().decode(), http_max_retries=0,
                               http_timeout_seconds=10.0)
    db = Database.from_url(config.database_url)
    db.migrate()
    web = serve(create_broadcast(config, db))
    try:
        yield Stack(fake.url, web.url, state_of(fake_app), db, config, agent_login(fake.url), fake)
    finally:
        web.stop()
        fake.stop()
        db.close()
