"""Replays through the real integration and the fake: the spec's numbers, as AgentBuddy holds them."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from harness.cli import main
from scenarios.story.loader import load, loads
from scenarios.engine import replay
from tests.scenarios.samples import pat


def outcome(result: dict, index: int) -> dict:
    return next(o for o in result["expectations"] if o["index"] == index)


def final(result: dict, contact: str) -> dict:
    return next(c for c in result["contacts"] if c["id"] == contact)["final"]


def test_maria_reaches_the_spec_numbers_in_agentbuddy(replayed):
    result = replayed("maria")
    assert result["error"] is None and result["gaps"] == []
    assert result["passed"], [o for o in result["expectations"] if not o["passed"]]
    maria = final(result, "maria")
    assert abs(maria["propensity_score"] - 87) <= 3 and abs(maria["seller_likelihood"] - 87) <= 3
    assert maria["propensity_category"] == "hot"
    assert maria["recommended_action"] == "Call this week - high seller intent"
    before = [p for p in next(c for c in result["contacts"] if c["id"] == "maria")["timeline"] if p["day"] <= 104][-1]
    assert 40 <= before["propensity_score"] <= 50 and before["propensity_category"] == "cool"


def test_james_reaches_the_spec_numbers_in_agentbuddy(replayed):
    result = replayed("james")
    assert result["error"] is None and result["gaps"] == []
    surge = outcome(result, 1)  # day 164, 2026-01-15 14:35
    assert surge["passed"], surge["checks"]
    james = final(result, "james")
    assert abs(james["buyer_activity_score"] - 92) <= 3
    assert "6 property clicks in 7 days" in james["contributing_factors"]
    assert "engagement trend: increasing" in james["contributing_factors"]
    assert outcome(result, 2)["passed"], "every event reached AgentBuddy exactly once"


def test_what_agentbuddy_received_is_counted_per_event(replayed):
    result = replayed("maria")
    maria = next(c for c in result["contacts"] if c["id"] == "maria")
    assert maria["received"]["opened"] == 13 and maria["received"]["clicked"] == 3
    assert all(d["count"] == 1 for d in maria["deliveries"])


def test_replaying_twice_gives_identical_json():
    scenario = load("hard_bounce")
    first, second = replay(scenario), replay(scenario)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["passed"]


FAILING = pat(10, 2, """
behaviours:
  - {who: pat, opens: {probability: 0.0}}
expect:
  - {contact: pat, category: hot, note: "a reader who never opens is not hot"}
""")


def test_a_failing_expectation_makes_replay_exit_non_zero_and_say_why(tmp_path: Path):
    path = tmp_path / "wishful.yaml"
    path.write_text(FAILING)
    loads(FAILING)  # the file is valid; only the expectation is wrong
    out = tmp_path / "result.json"
    report = tmp_path / "report.html"
    answer = CliRunner().invoke(main, ["replay", str(path), "--json", str(out), "--report", str(report)])
    assert answer.exit_code == 1, answer.output
    assert "✗ expect[0] pat @ day 10 (a reader who never opens is not hot)" in answer.output
    assert "propensity_category: expected 'hot', got 'cold'" in answer.output
    assert "sent 'Newsletter' #2 to 1" in answer.output  # the timeline that led there
    assert json.loads(out.read_text())["passed"] is False
    html = report.read_text()
    assert "<svg" in html and "FAIL" in html and "<script" not in html and "http://" not in html.split("</style>")[0]


def test_an_invalid_file_exits_2_with_the_path_into_the_file(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(FAILING.replace("kind: newsletter", "kind: newsleter"))
    answer = CliRunner().invoke(main, ["replay", str(path)])
    assert answer.exit_code == 2
    assert "campaigns[0].kind: 'newsleter' is not one of" in answer.output


def test_replays_side_by_side_give_the_same_json_as_one_at_a_time():
    from scenarios.engine import replay_many

    scenarios = [load("spam_complaint"), load("hard_bounce")]
    heard: list[tuple[str, int, int]] = []
    together = replay_many(scenarios, jobs=2, progress=lambda *a: heard.append(a))
    alone = [replay(s) for s in scenarios]
    assert [r["scenario"] for r in together] == ["spam_complaint", "hard_bounce"]  # the order asked, not finished
    assert json.dumps(together, sort_keys=True) == json.dumps(alone, sort_keys=True)
    assert ("spam_complaint", 40, 40) in heard and ("hard_bounce", 30, 30) in heard


def test_agentbuddy_judged_every_request_about_maria(replayed):
    maria = next(c for c in replayed("maria")["contacts"] if c["id"] == "maria")
    requests = maria["requests"]
    assert requests["requests"] > 0 and requests["signatures"] == {"valid": requests["requests"]}
    assert requests["statuses"] == {"200": requests["requests"]} and requests["duplicates"] == 0
