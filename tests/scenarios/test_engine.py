"""The engine on a stack that is already running, as a live demo plays a story: day by day,
each log line heard as it happens, and in the end the very result `replay()` gives."""
from __future__ import annotations

import json

import pytest

from common.clock import AdjustableClock
from common.serving import serve
from integration import outbox
from integration.agentbuddy import connections
from integration.outbox import Doorbell
from integration.storage import Database
from integration.web import create_app
from integration.web.service import Service, ServiceOptions
from mock_agentbuddy.admin.client import AdminClient
from scenarios.engine import Stack, Story, StoryError, replay
from scenarios.engine.stack import ORG, launch_fake, replay_config
from scenarios.story.loader import load

STORY = "agentbuddy_down_during_delivery"  # an outage, a 429 storm and a revoked token in 28 days


@pytest.fixture
def running(tmp_path):
    """A fake and Broadcast's web app served, the clock a running `AdjustableClock`; not connected."""
    scenario = load(STORY)
    fake = launch_fake(scenario)  # the fake's world as a replay's own, so the ids agree
    config = replay_config(scenario, f"sqlite:///{tmp_path / 'broadcast.sqlite3'}", fake.url)
    db = Database.from_url(config.database_url)
    db.migrate()
    clock = AdjustableClock()
    web = serve(create_app(config, db, clock))
    try:
        yield scenario, Stack(db, config, ORG, clock, web.url, AdminClient(fake.url), connected=False)
    finally:
        web.stop()
        db.close()
        fake.stop()


def connect(stack: Stack) -> Stack:
    """Connected as a person would be before playing: the first agent, at wall time."""
    agent = stack.agentbuddy.world()["accounts"][0]["agents"][0]
    connections.connect_headless(stack.db, stack.config, stack.organization_id, agent["email"], clock=stack.clock)
    stack.connected = True
    return stack


def test_a_story_played_day_by_day_on_a_running_stack_ends_as_its_replay_does(running):
    scenario, stack = running
    heard: list[dict] = []
    story = Story(scenario, connect(stack), on_line=heard.append)
    try:
        story.start()
        assert story.day == -1 and story.days == scenario.days and story.now() < scenario.at(0)
        days = []
        while story.step_day():
            days.append(story.day)
            assert story.now() >= scenario.at(story.day, scenario.rescore_hour)
        assert story.finished and story.day == scenario.days and days == list(range(scenario.days))
        assert not story.step_day()
        result = story.finish()
    finally:
        story.close()
    assert heard == story.log == result["log"]
    assert any("outage" in line["what"] for line in heard)
    assert not stack.clock.frozen  # the clock the stack's apps read runs again

    replayed = replay(scenario)
    replayed["log"] = [line for line in replayed["log"] if not line["what"].startswith("connected Broadcast")]
    assert result["passed"] and replayed["passed"]
    assert json.dumps(result, sort_keys=True) == json.dumps(replayed, sort_keys=True)


def test_a_story_on_a_stack_said_to_be_connected_but_not_explains_what_to_do(running):
    scenario, stack = running
    stack.connected = True
    story = Story(scenario, stack)
    with pytest.raises(StoryError, match="connect it first"):
        story.start()
    story.close()
    assert story.finished and "not connected" in story.finish()["error"]


def test_a_story_whose_stack_delivers_by_itself_still_drains_the_backlog(running):
    """deliver=False: the stack's own background service sends the outbox, as on `make serve`."""
    scenario, stack = running
    stack.doorbell = Doorbell()
    options = ServiceOptions(workers=1, poll_seconds=0.05, sync=False, rescore=False)
    story = Story(scenario, connect(stack), deliver=False)
    with Service(stack.db, stack.config, stack.clock, options=options, doorbell=stack.doorbell):
        try:
            result = story.finish()
        finally:
            story.close()
    assert result["error"] is None
    assert result["passed"], [(o["label"], [c for c in o["checks"] if not c["passed"]]) for o in result["expectations"] if not o["passed"]]
    counts = outbox.counts(stack.db, stack.organization_id)
    assert counts["queued"] == counts["retrying"] == counts["dead"] == 0 and counts["delivered"] > 0


def test_the_same_story_played_twice_on_one_stack_sends_new_mail(running):
    """A second play puts new people in and sends them new mail, which Broadcast must not take
    for repeats of the first play's events."""
    _scenario, stack = running
    connect(stack)
    scenario = load("unsubscribe")
    results = []
    for _play in range(2):
        story = Story(scenario, stack)
        try:
            results.append(story.finish())
        finally:
            story.close()
    first, second = results
    assert first["passed"] and second["passed"], [o["label"] for o in second["expectations"] if not o["passed"]]
    assert {s["email_id"] for s in first["sends"] if "email_id" in s}.isdisjoint(
        s["email_id"] for s in second["sends"] if "email_id" in s)
