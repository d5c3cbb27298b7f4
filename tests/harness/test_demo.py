"""`make demo` as a person runs it: the stories, the table, the report on disk, the exit code."""
from __future__ import annotations

import copy
import re
from pathlib import Path

from click.testing import CliRunner

from harness.cli import main


def run_demo(*args: str):
    return CliRunner().invoke(main, ["demo", *args], catch_exceptions=False)


def test_demo_tells_maria_and_james_and_writes_the_report(tmp_path: Path):
    out = run_demo("--no-tour", "--only", "maria", "--only", "james", "--output-dir", str(tmp_path))

    assert out.exit_code == 0, out.output
    text = out.output
    for name, action in (("Maria Lopez", "Call this week - high seller intent"), ("James Chen", "Call today - active buyer")):
        assert f"{name} — " in text                      # the story's heading
        assert f"Recommended action: {action}" in text
    assert text.count("Week by week") == 2 and text.count("What AgentBuddy received") == 2
    verified = re.findall(r"signatures verified by AgentBuddy: (\d+) of (\d+)", text)
    assert len(verified) == 2 and all(a == b and int(a) > 0 for a, b in verified)
    assert "AgentBuddy now holds HOT" in text               # Maria's score crossing into hot
    assert re.search(r"maria\s+│ PASS", text) and re.search(r"james\s+│ PASS", text)
    report, data = tmp_path / "demo-report.html", tmp_path / "demo-report.json"
    assert f"HTML report: {report.resolve()}" in text and f"JSON result: {data.resolve()}" in text
    html = report.read_text(encoding="utf-8")
    assert "<svg" in html and "Maria Lopez" in html and "James Chen" in html
    assert re.search(r"(\d+) request\(s\) named this contact · signatures: valid ×\1 ", html)
    assert "<script" not in html and "http://" not in html.split("</style>")[0]
    assert '"scenario": "maria"' in data.read_text(encoding="utf-8")


def test_demo_exits_non_zero_and_names_the_failure(tmp_path: Path, monkeypatch):
    from scenarios.story.loader import load
    from scenarios.engine import replay

    broken = copy.deepcopy(replay(load("spam_complaint")))
    broken["passed"] = False
    broken["expectations"][0]["passed"] = False
    broken["expectations"][0]["checks"][0]["passed"] = False
    monkeypatch.setattr("harness.demo.replay_library", lambda names, **kw: [kw["on_result"](broken) or broken])

    out = run_demo("--no-tour", "--only", "spam_complaint", "--output-dir", str(tmp_path))

    assert out.exit_code == 1
    assert "FAILED: spam_complaint" in out.output and "✗ expect[0]" in out.output
    assert (tmp_path / "demo-report.html").exists()


def test_tour_only_is_the_interim_demo():
    out = run_demo("--tour-only")

    assert out.exit_code == 0, out.output
    assert "OAuth code + PKCE" in out.output and "signed email.opened webhook → HTTP 200" in out.output
    assert "scenario library" not in out.output


def test_an_unknown_scenario_name_is_a_usage_error(tmp_path: Path):
    out = CliRunner().invoke(main, ["demo", "--no-tour", "--only", "nobody", "--output-dir", str(tmp_path)])

    assert out.exit_code == 2 and "nobody" in out.output
