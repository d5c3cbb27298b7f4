"""The stack a story plays on, and the one place that sets up a stack of its own.

A `Stack` names what a story needs of running servers: Broadcast's database, configuration and
organization, the clock Broadcast reads (a `ManualClock`, or the `AdjustableClock` a live web
app and background service share), Broadcast's web app URL, and the fake AgentBuddy's admin
API. `local_stack(scenario)` builds one for a replay: a temporary SQLite database, the fake
started in-process (the only import of `mock_agentbuddy`'s app in `scenarios/`) unless a running
one is given, and Broadcast's web app, both served with `common.serving`.
"""
from __future__ import annotations

import base64
import hashlib
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator, Protocol

from common.clock import ManualClock
from common.serving import ServedApp, serve
from integration.config import IntegrationConfig
from integration.outbox import Doorbell
from integration.storage import Database
from integration.web import create_app as broadcast_app
from mock_agentbuddy import MockConfig, create_app as fake_app
from mock_agentbuddy.admin.client import AdminClient
from scenarios.story import model as m

ORG = "org_scenario"
REDIRECT_URI = "http://127.0.0.1/integrations/agentbuddy/callback"


class SettableClock(Protocol):
    """What a story needs of Broadcast's clock: to read it and to move it."""

    def now(self) -> datetime: ...

    def set(self, value: datetime) -> None: ...


@dataclass
class Stack:
    """Running servers a story plays on; a story never starts or stops them."""

    db: Database
    config: IntegrationConfig
    organization_id: str
    clock: SettableClock
    broadcast_url: str               # Broadcast's web app (POST /providers/resend/webhook)
    agentbuddy: AdminClient          # the fake's admin API
    connected: bool = False          # a connection already exists: the story does not connect
    doorbell: Doorbell | None = None  # the stack's service's, rung when the story moves the clock


def _secret(seed: int, purpose: str) -> bytes:
    return hashlib.sha256(f"ab-harness:{purpose}:{seed}".encode()).digest()


def replay_config(scenario: m.Scenario, database_url: str, agentbuddy_url: str) -> IntegrationConfig:
    """Broadcast's configuration for a replay: keys derived from the seed, no HTTP retries (the
    story's clock, not a sleeping client, decides when delivery tries again)."""
    return IntegrationConfig(
        database_url=database_url, agentbuddy_url=agentbuddy_url,
        token_key=base64.urlsafe_b64encode(_secret(scenario.seed, "fernet")).decode(),
        default_organization_id=ORG,
        resend_webhook_secret="whsec_" + base64.b64encode(_secret(scenario.seed, "resend")).decode(),
        http_max_retries=0, http_timeout_seconds=10.0, redirect_uri=REDIRECT_URI,
    )


def launch_fake(scenario: m.Scenario) -> ServedApp:
    """The fake AgentBuddy in-process, one empty account, its epoch long before the story."""
    config = MockConfig(seed=scenario.seed, accounts=1, offices_per_account=1, agents_per_account=1,
                        contacts_per_account=0, properties_per_contact=0.0, epoch=scenario.at(-400),
                        auto_approve=True, rate_limit="100000/min", access_token_ttl=3600)
    return serve(fake_app(config), name="fake-agentbuddy")


@contextmanager
def local_stack(scenario: m.Scenario, agentbuddy_url: str | None = None) -> Iterator[Stack]:
    """A stack of the replay's own, torn down on exit; with `agentbuddy_url`, a running fake
    (reset first: it holds one story's world at a time) instead of an in-process one."""
    with ExitStack() as cleanup:
        if agentbuddy_url is None:
            fake = launch_fake(scenario)
            cleanup.callback(fake.stop)
            admin = AdminClient(fake.url)
        else:
            admin = AdminClient(agentbuddy_url)
            admin.reset(clock=True)
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=f"replay-{scenario.name}-")))
        config = replay_config(scenario, f"sqlite:///{workdir / 'broadcast.sqlite3'}", admin.url)
        db = Database.from_url(config.database_url)
        db.migrate()
        cleanup.callback(db.close)
        clock = ManualClock(scenario.at(0) - timedelta(hours=1))
        web = serve(broadcast_app(config, db, clock), name="broadcast")
        cleanup.callback(web.stop)
        yield Stack(db, config, ORG, clock, web.url, admin, connected=False)
