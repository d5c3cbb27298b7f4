"""Issue 3, "Done when": with the fake running, `ab-harness connect`, `ab-harness sync`, an
engagement stream and `ab-harness deliver` leave AgentBuddy holding correct engagement and
propensity for every affected contact — on SQLite and on PostgreSQL.

The CLI runs on the system clock, so the fake runs on wall time here (not frozen). The
engagement stream is Resend's: Svix-signed webhooks posted to Broadcast's web app. The app's
clock is set two minutes back (webhooks signed and checked against it, well inside the ±5 min
tolerance), so the one-contact metrics updates it debounces for 30 s are already due when
`deliver --drain` runs a moment later on the real clock.
"""
from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from harness.cli import main
from common.clock import ManualClock
from integration.config import IntegrationConfig
from integration.storage import Database
from integration.web import create_app

from .support import (CAMPAIGN, RESEND_SECRET, Resend, Story, engagement_stream, received_event_ids, send_campaign,
                      start_fake)

ORG = "org_cli_acme"


def _pattern(index: int) -> tuple[int, int]:
    return [(1, 0), (2, 1), (3, 2), (0, 0), (4, 1)][index % 5]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL the CLI is given: a SQLite file, or PostgreSQL pinned to a private schema through
    libpq's `options=-csearch_path=…` (the CLI knows nothing of test schemas)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'broadcast.sqlite3'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"acc_cli_{uuid.uuid4().hex[:12]}"
    owner = Database.from_url(base, schema=schema)
    owner.migrate()  # creates the schema the CLI's connections will find on their search_path
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote('-csearch_path=' + schema, safe='')}"
    owner.drop_schema()


@pytest.fixture
def fake() -> Iterator[Any]:
    agentbuddy, stop = start_fake(clock_at=None, contacts_per_account=40)  # wall time, like the CLI
    yield agentbuddy
    stop()


@pytest.fixture(params=["webhooks", "api"])
def delivery_mode(request: pytest.FixtureRequest) -> str:
    """Option A (signed webhooks) is the default; Option B (push API) is one variable away."""
    return request.param


@pytest.fixture
def cli(tmp_path, monkeypatch, database_url: str, fake, delivery_mode: str):
    monkeypatch.chdir(tmp_path)
    env = {"AB_HARNESS_DELIVERY_MODE": delivery_mode, "AB_HARNESS_TOKEN_KEY": Fernet.generate_key().decode(),
           "RESEND_WEBHOOK_SECRET": RESEND_SECRET, "AB_HARNESS_ORG": ORG, "AB_HARNESS_DATABASE_URL": database_url,
           "AB_HARNESS_AGENTBUDDY_URL": fake.url, "COLUMNS": "200"}
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        return result.output

    run.env = env  # type: ignore[attr-defined]
    return run


def _json(output: str) -> Any:
    """The command's JSON document (stderr notes, if any, come before it)."""
    return json.loads(output[min(i for i in (output.find("{"), output.find("[")) if i >= 0):])


def _engagement_stream(database_url: str, env: dict[str, str], contact_ids: list[str]) -> list[Story]:
    """Broadcast's campaign tool records the sends, then Resend's webhooks arrive at the web app."""
    clock = ManualClock(datetime.now(timezone.utc) - timedelta(minutes=2))
    config = IntegrationConfig.from_env(env)
    db = Database.from_url(database_url)
    try:
        sends = send_campaign(db, ORG, clock, contact_ids, sent_at=clock.now() - timedelta(hours=3))
        app = create_app(config, db=db, clock=clock)
        with app.test_client() as client:
            return engagement_stream(Resend(clock), client, sends, clock.now() - timedelta(hours=3), _pattern)
    finally:
        db.close()


def test_connect_sync_engage_deliver_leaves_agentbuddy_with_correct_engagement_and_propensity(cli, fake,
                                                                                               database_url,
                                                                                               delivery_mode):
    connected = cli("connect", "--login-hint", fake.agent_email())
    assert f"Connected {ORG} to AgentBuddy account" in connected and fake.account_id() in connected

    summary = _json(cli("sync", "--json"))
    assert summary["kind"] == "initial"
    live = {c["id"] for c in fake.records("contacts", include_deleted=False)}
    exported = {c["id"]: c for c in _json(cli("export", "contacts", "--json"))}
    assert set(exported) == live
    emailable = sorted(cid for cid, c in exported.items() if c["emailable"])
    assert len(emailable) >= 10
    affected = emailable[:10]

    stories = {s.contact_id: s for s in _engagement_stream(database_url, cli.env, affected)}
    delivered = cli("deliver", "--drain")
    assert "dead-lettered 0" in delivered
    outbox = _json(cli("deliveries", "--json"))
    assert outbox["dead_letters"] == [] and outbox["counts"].get("queued", 0) == 0, outbox["counts"]

    ours = {c["id"]: c for c in _json(cli("export", "contacts", "--json"))}
    for contact_id, story in stories.items():
        mine, theirs = ours[contact_id], fake.get(f"contacts/{contact_id}")
        expected = {"total_emails_sent": 1, "total_opens": story.opens, "total_clicks": story.clicks,
                    "open_rate": 100.0 if story.opens or story.clicks else 0.0,
                    "click_rate": 100.0 if story.clicks else 0.0}
        assert {k: mine[k] for k in expected} == expected, ("Broadcast's view", story)
        assert theirs["engagement"] is not None, f"{contact_id}: no engagement at AgentBuddy"
        assert {k: theirs["engagement"][k] for k in expected} == expected, ("AgentBuddy", story)
        assert theirs["engagement"]["engagement_trend"] == mine["engagement_trend"]
        assert mine["propensity_score"] is not None, contact_id
        assert theirs["propensity"] is not None, f"{contact_id}: no score at AgentBuddy"
        assert (theirs["propensity"]["propensity_score"], theirs["propensity"]["propensity_category"]) == (
            mine["propensity_score"], mine["propensity_category"]), contact_id
        campaign = {c["id"]: c for c in theirs["campaigns"]}[CAMPAIGN.id]
        assert campaign["status"] == ("clicked" if story.clicks else "opened" if story.opens else "delivered")
    engaged = [ours[c]["propensity_score"] for c, s in stories.items() if s.clicks >= 2]
    quiet = [ours[c]["propensity_score"] for c, s in stories.items() if s.opens == 0 and s.clicks == 0]
    assert min(engaged) > max(quiet), "the contacts who clicked most score above those who never opened"

    inbound = fake.inbound()
    prefix = "/v1/webhooks/broadcast/" if delivery_mode == "webhooks" else ("/v1/contacts/", "/v1/engagement/")
    assert inbound and all(e["path"].startswith(prefix) for e in inbound), "delivered the configured way"
    events = Counter(received_event_ids(inbound))
    assert sum(events.values()) == len(events) == sum(2 + s.opens + s.clicks for s in stories.values()), \
        "every event of the stream reached AgentBuddy exactly once"

    rescored = _json(cli("rescore", "--json"))
    assert rescored["scored"] >= len(emailable)
    assert "dead-lettered 0" in cli("deliver", "--drain")
    ours = {c["id"]: c for c in _json(cli("export", "contacts", "--json"))}
    for contact_id in emailable:
        held = fake.get(f"contacts/{contact_id}")["propensity"]
        assert held is not None and held["propensity_score"] == ours[contact_id]["propensity_score"], contact_id
