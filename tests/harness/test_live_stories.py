"""Stories played on the stack `ab-harness serve` runs: not before connecting, stopped between two
days with both sides agreeing, one after another in the same account, and from the command line."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from cryptography.fernet import Fernet

from harness.cli import main
from harness.serve import start_stack
from integration import outbox
from integration.agentbuddy import connections
from integration.web.player import FINISHED, PAUSED, STOPPED, PlayerError
from mock_agentbuddy.admin.client import AdminClient


@pytest.fixture
def stack():
    stack = start_stack(contacts=5, token_key=Fernet.generate_key().decode(), auto_approve=True)
    try:
        yield stack
    finally:
        stack.stop()


def connect(stack):
    return connections.connect_headless(stack.db, stack.config, stack.config.default_organization_id,
                                        stack.login_email, clock=stack.clock)


def wait_for(player, condition, bound: float = 120.0):
    """Until the player's status meets `condition` (a bound, not a measurement)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        status = player.status()
        if condition(status):
            return status
        time.sleep(0.02)
    raise AssertionError(f"the player never got there: {player.status()}")


def test_a_story_before_connecting_says_to_connect_first(stack):
    with pytest.raises(PlayerError, match="Connect AgentBuddy first") as refused:
        stack.player.play("maria")
    assert refused.value.code == "not_connected"
    http = requests.Session()
    page = http.get(stack.web.url + "/settings/integrations/agentbuddy", timeout=10).text
    assert 'id="play-needs-connection"' in page
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    answer = http.post(stack.web.url + "/live/play", data={"csrf": token, "story": "maria"},
                       headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 409 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "not_connected"
    assert stack.player.status().story is None


def test_stopped_between_days_both_sides_agree_and_the_next_stories_play_on(stack):
    connection = connect(stack)
    player, org = stack.player, stack.config.default_organization_id
    player.play("maria", speed=None)
    player.pause()
    paused = wait_for(player, lambda s: s.state == PAUSED)
    for day in range(paused.day + 1, max(paused.day, 0) + 3):   # a day or two more, one step at a time
        player.step()
        wait_for(player, lambda s: s.state == PAUSED and s.day == day)
    player.stop()
    stopped = player.wait(120)
    assert stopped.state == STOPPED and stopped.day == day < stopped.days
    assert stopped.expectations == () and stopped.passed is None  # a story cut short is not judged

    # consistent: nothing half-sent, what Broadcast scored is what AgentBuddy holds
    health = outbox.counts(stack.db, org)
    assert health["queued"] == health["retrying"] == health["delivering"] == health["dead"] == 0
    maria = stopped.people[0].agentbuddy_id
    with stack.db.transaction(readonly=True) as tx:
        ours = tx.fetchone("SELECT propensity_score, propensity_category FROM contact_scores"
                           " WHERE organization_id = ? AND contact_id = ?", (org, maria))
    admin = AdminClient(stack.fake.url)
    theirs = admin.record("contacts", maria)["record"]["propensity"]
    assert ours is not None and theirs["propensity_score"] == ours["propensity_score"]
    assert theirs["propensity_category"] == ours["propensity_category"]
    assert not stack.service.held and not stack.clock.frozen and not admin.clock()["frozen"]

    # the next story: its people join the same account, and it ends as its replay does
    player.play("james", speed=None)
    james = player.wait(300)
    assert james.state == FINISHED and james.passed, [e for e in james.expectations if not e["passed"]]
    assert all(e["passed"] for e in james.expectations) and james.day == james.days
    record = admin.record("contacts", james.people[0].agentbuddy_id)
    assert record["account_id"] == connection.account_id == admin.record("contacts", maria)["account_id"]
    assert record["record"]["propensity"]["propensity_category"] == "hot"

    # and Maria again, from the start: new people, new mail, the replay's ending
    player.play("maria", speed=None)
    again = player.wait(300)
    assert again.state == FINISHED and again.passed, [e for e in again.expectations if not e["passed"]]
    assert again.people[0].agentbuddy_id != maria


def test_serve_play_refuses_an_unknown_story_in_one_sentence():
    result = CliRunner().invoke(main, ["serve", "--free-ports", "--play", "maria", "--play", "marie"])
    assert result.exit_code == 2
    assert "no library story named 'marie'" in result.output and "maria" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(main, ["serve", "--free-ports", "--play", "maria", "--speed", "fast"])
    assert result.exit_code == 2 and "neither a number" in result.output


def test_serve_play_plays_from_the_command_line_and_prints_the_verdict(tmp_path):
    env = {**os.environ, "AB_HARNESS_TOKEN_KEY": Fernet.generate_key().decode(), "PYTHONUNBUFFERED": "1"}
    serving = subprocess.Popen(
        [str(Path(sys.executable).parent / "ab-harness"), "serve", "--free-ports", "--contacts", "5", "--play",
         "agentbuddy_down_during_delivery", "--speed", "full"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    lines: list[str] = []
    try:
        for line in serving.stdout:
            lines.append(line.rstrip())
            if line.startswith(("PASS", "FAIL")):
                break
    finally:
        serving.send_signal(signal.SIGTERM)
        rest, _ = serving.communicate(timeout=60)
    lines += rest.splitlines()
    text = "\n".join(lines)
    assert "Connected Broadcast to AgentBuddy account" in text
    assert "AgentBuddy outage (503 on every call) for 6h begins" in text
    assert "PASS agentbuddy_down_during_delivery — 3/3 expectations" in text, text
    assert serving.returncode == 0 and "Stopping" in text
