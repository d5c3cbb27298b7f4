"""The "Play a story" control through Flask's test client: what a person and a script are told.

The player here is the real `ScenarioPlayer` (library, loader, pacing, pause/step/stop) over a
backend whose stories only count days, so these tests are about the control, its endpoints and
its words; tests/harness/test_live_stories.py plays real stories on a real stack.
"""
from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone
from io import BytesIO

import pytest
from cryptography.fernet import Fernet

from common.clock import ManualClock
from harness.player import ScenarioPlayer
from integration.config import IntegrationConfig
from integration.storage import Database
from integration.web import create_app
from integration.web.player import FINISHED, PAUSED, STOPPED, StoryPerson

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
SETTINGS = "/settings/integrations/agentbuddy"
JSON = {"Accept": "application/json"}


class CountingStory:
    """A story that only counts its days; `gate` (when set) holds each day until released."""

    def __init__(self, scenario, on_line, gate: threading.Semaphore | None) -> None:
        self.scenario, self.on_line, self.gate = scenario, on_line, gate
        self.day, self.days, self.closed = -1, scenario.days, False

    def start(self) -> None:
        self.on_line({"day": 0, "at": "2025-09-03T14:00:00Z", "what": "initial sync: 1 created, 0 updated, 0 deleted"})

    def step_day(self) -> bool:
        if self.gate is not None:
            self.gate.acquire()
        self.day += 1
        if self.day == 114:
            self.on_line({"day": 114, "at": "2025-12-26T19:10:00Z", "contact": "maria", "what": "Maria Lopez clicked "
                          "https://go.broadcast.example/r/whats-your-home-worth?issue=2025-12-24"})
        self.on_line({"day": self.day, "at": self.now().isoformat(), "what": f"day {self.day} played"})
        return self.day < self.days

    def now(self) -> datetime:
        return NOW + timedelta(days=max(self.day, 0))

    def finish(self) -> dict:
        return {"passed": False, "error": None, "expectations": [
            {"label": "expect[0] maria @ day 134", "contact": "maria", "day": 134, "passed": True,
             "checks": [{"check": "propensity_score", "expected": "87±3", "actual": 88, "passed": True}]},
            {"label": "expect[1] maria @ day 134", "contact": "maria", "day": 134, "passed": False,
             "checks": [{"check": "propensity_category", "expected": "hot", "actual": "warm", "passed": False}]}]}

    def close(self) -> None:
        self.closed = True


class CountingBackend:
    def __init__(self) -> None:
        self.is_connected = False
        self.gate: threading.Semaphore | None = None
        self.stories: list[CountingStory] = []

    def connected(self) -> bool:
        return self.is_connected

    def create(self, scenario, on_line):
        self.stories.append(CountingStory(scenario, on_line, self.gate))
        return self.stories[-1]

    def backlog(self) -> int:
        return 0

    def people(self, story, scenario):
        return [StoryPerson(c.name, f"ab_contact_{i:05d}") for i, c in enumerate(scenario.all_contacts(), 1)]


@pytest.fixture
def backend():
    return CountingBackend()


@pytest.fixture
def player(backend):
    player = ScenarioPlayer(backend)
    yield player
    if backend.gate is not None:
        for _ in range(1000):
            backend.gate.release()
    player.shutdown()


@pytest.fixture
def broadcast(tmp_path, player):
    config = IntegrationConfig(database_url=f"sqlite:///{tmp_path / 'b.sqlite3'}", agentbuddy_url="http://127.0.0.1:9",
                               token_key=Fernet.generate_key().decode(), http_max_retries=0)
    db = Database.from_url(config.database_url)
    db.migrate()
    yield create_app(config, db, ManualClock(NOW), player=player).test_client()
    db.close()


def csrf(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(SETTINGS).get_data(as_text=True)).group(1)


def post(client, path: str, headers=JSON, **form):
    return client.post(path, data={"csrf": csrf(client), **form}, headers=headers)


def test_an_app_without_a_player_says_stories_need_ab_harness_serve(tmp_path):
    config = IntegrationConfig(database_url=f"sqlite:///{tmp_path / 'b.sqlite3'}", agentbuddy_url="http://127.0.0.1:9",
                               token_key=Fernet.generate_key().decode())
    client = create_app(config, clock=ManualClock(NOW)).test_client()
    page = client.get(SETTINGS).get_data(as_text=True)
    assert 'id="play-unavailable"' in page and "ab-harness serve" in page
    assert 'id="story-bar"' not in page  # no bar promising what cannot happen
    answer = post(client, "/live/play", story="maria")
    assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
    assert answer.json["code"] == "unavailable" and "ab-harness serve" in answer.json["detail"]


def test_playing_without_a_connection_explains_what_to_do_first(broadcast):
    page = broadcast.get(SETTINGS).get_data(as_text=True)
    assert 'id="play-needs-connection"' in page and "Connect AgentBuddy first" in page
    assert '<option value="maria">' in page and '<option value="agentbuddy_down_during_delivery">' in page
    answer = post(broadcast, "/live/play", story="maria", speed="full")
    assert answer.status_code == 409 and answer.mimetype == "application/problem+json"
    assert answer.json["code"] == "not_connected"
    assert "Connect AgentBuddy first" in answer.json["detail"] and "sign in at AgentBuddy" in answer.json["detail"]
    # a plain form post (no script) gets the same words on the page it came from
    answer = post(broadcast, "/live/play", headers={"Accept": "text/html"}, story="maria")
    assert answer.status_code == 302 and answer.location.endswith(SETTINGS)
    assert "Connect AgentBuddy first" in broadcast.get(SETTINGS).get_data(as_text=True)


def test_an_invalid_upload_gets_the_loaders_precise_errors(broadcast, backend):
    backend.is_connected = True
    text = b"name: broken\ndays: 10\nworld:\n  contacts:\n    - {id: ann, name: Ann Lee, type: landlord}\n" \
           b"campaigns: []\nbehaviours: []\n"
    answer = broadcast.post("/live/play", headers=JSON, content_type="multipart/form-data", data={
        "csrf": csrf(broadcast), "speed": "1", "scenario": (BytesIO(text), "broken.yaml")})
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert answer.json["code"] == "invalid_scenario" and "broken.yaml is not a valid scenario" in answer.json["detail"]
    messages = [e["message"] for e in answer.json["errors"]]
    assert any("world.contacts[0].type" in m and "(line 5" in m and "landlord" in m for m in messages), messages
    assert backend.stories == []

    not_yaml = broadcast.post("/live/play", headers=JSON, content_type="multipart/form-data", data={
        "csrf": csrf(broadcast), "scenario": (BytesIO(b"\xff\xfe\x00binary"), "photo.png")})
    assert not_yaml.status_code == 400 and "not UTF-8 text" in not_yaml.json["detail"]


def test_bad_input_is_answered_field_by_field(broadcast, backend):
    backend.is_connected = True
    cases = {
        (("story", "maria"), ("speed", "warp")): ("speed", "neither a number"),
        (("story", "maria"), ("speed", "500")): ("speed", "outside"),
        (("speed", "1"),): ("story", "choose a story"),
    }
    for form, (field, words) in cases.items():
        answer = post(broadcast, "/live/play", **dict(form))
        assert answer.status_code == 400 and answer.mimetype == "application/problem+json", form
        assert answer.json["errors"][0]["field"] == field and words in answer.json["errors"][0]["message"], answer.json
    unknown = post(broadcast, "/live/play", story="nosuch")
    assert unknown.status_code == 404 and unknown.json["code"] == "unknown_story" and "maria" in unknown.json["detail"]
    nothing = post(broadcast, "/live/pause")
    assert nothing.status_code == 409 and nothing.json["code"] == "not_playing"
    forged = broadcast.post("/live/play", data={"story": "maria"}, headers=JSON)
    assert forged.status_code == 400 and forged.mimetype == "application/problem+json" and "CSRF" in forged.json["detail"]


def test_pause_step_resume_and_stop_between_days(broadcast, backend, player):
    backend.is_connected = True
    backend.gate = threading.Semaphore(0)  # each day waits for a release: the test holds the story's hand
    started = post(broadcast, "/live/play", story="maria", speed="full")
    assert started.status_code == 200 and started.json["story"] == "maria" and started.json["running"]
    assert post(broadcast, "/live/pause").json["running"]
    backend.gate.release()                               # the day in hand ends, then it waits paused
    status = wait_for(player, lambda s: s.state == PAUSED)
    played = status.day
    backend.gate.release()                               # nothing moves while paused
    assert player.status().day == played
    post(broadcast, "/live/step")
    status = wait_for(player, lambda s: s.day == played + 1 and s.state == PAUSED)
    assert "(paused)" in status.headline and f"day {played + 1} played" in status.headline
    assert post(broadcast, "/live/speed", speed="5").json["speed"] == 5.0
    assert post(broadcast, "/live/speed", speed="full").json["speed"] is None
    assert post(broadcast, "/live/speed", speed="0").status_code == 400
    resumed = post(broadcast, "/live/resume").json
    assert resumed["state"] in ("paused", "playing") and resumed["running"]
    backend.gate.release()
    wait_for(player, lambda s: s.day == played + 2 and s.state == "playing")
    post(broadcast, "/live/pause")
    backend.gate.release()
    wait_for(player, lambda s: s.state == PAUSED)
    played = player.status().day - 1
    busy = post(broadcast, "/live/play", story="james")
    assert busy.status_code == 409 and busy.json["code"] == "busy" and "stop it" in busy.json["detail"]
    post(broadcast, "/live/stop")
    status = player.wait(30)
    assert status.state == STOPPED and status.day == played + 1 and backend.stories[0].closed
    assert post(broadcast, "/live/resume").json["code"] == "not_playing"
    bar = broadcast.get("/live/bar").get_data(as_text=True)
    assert "maria, day" in bar and "stopped" in bar


def test_a_finished_story_shows_its_expectations_as_the_replay_does(broadcast, backend, player):
    backend.is_connected = True
    heard: list[dict] = []
    player.listen(on_line=heard.append)
    post(broadcast, "/live/play", story="maria", speed="full")
    assert player.wait(30).state == FINISHED
    told = [line for line in heard if line["day"] == 114 and line.get("contact") == "maria"]
    assert told[0]["what"] == "Maria Lopez clicked “What's Your Home Worth?”"  # the link's label, as a person says it
    assert told[0]["url"].endswith("whats-your-home-worth?issue=2025-12-24")
    status = broadcast.get("/live/status").json
    assert status["state"] == "finished" and status["passed"] is False and status["day"] == 134
    assert "an expectation failed" in status["headline"]
    panel = broadcast.get("/live/panel").get_data(as_text=True)
    assert 'id="story-verdict">FAIL' in panel and "1/2 met" in panel
    assert "propensity_category: expected hot, got warm" in panel
    assert '<a href="/contacts/ab_contact_00001">' in panel and "http://127.0.0.1:9/ui/contacts/ab_contact_00001" in panel


def wait_for(player, condition, bound: float = 30.0):
    """Until the player's status meets `condition` (a bound, not a measurement)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        status = player.status()
        if condition(status):
            return status
        time.sleep(0.01)
    raise AssertionError(f"the player never got there: {player.status()}")
