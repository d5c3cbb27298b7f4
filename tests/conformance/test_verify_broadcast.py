"""`ab-harness verify broadcast`: the fake in verification mode. A client runs its flows, SIGTERM
prints the verdict (and writes the reports the provider kit writes); `--url` judges a fake already
running — which is how a replay of our own reference integration is judged, and it comes out clean.
Bad input ends in one sentence and exit status 2."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys

import pytest
import requests
from junitparser import Failure, JUnitXml

from common.serving import serve
from conformance import CONSUMER_SUITE, CONSUMER_VERSION
from mock_agentbuddy import MockConfig, create_app, stop_background
from mock_agentbuddy.admin.client import AdminClient
from scenarios.story.loader import load
from scenarios.engine import replay
from scenarios.engine.stack import launch_fake

KIT = [sys.executable, "-c", "from harness.cli import main; main()"]
READY = re.compile(r"on (http://127\.0\.0\.1:\d+) ")


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    served = subprocess.Popen([*KIT, "verify", "broadcast", "--port", "0", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in served.stderr:
        found = READY.search(line)
        if found:
            return served, found.group(1)
    raise AssertionError(f"verify broadcast did not start: {served.communicate()}")


@pytest.mark.slow
def test_sigterm_prints_the_verdict_with_its_evidence_and_writes_the_reports(tmp_path):
    junit, html = tmp_path / "verdict.xml", tmp_path / "verdict.html"
    served, url = _start("--auto-approve", "--json", "--junit", str(junit), "--html", str(html))
    try:
        assert requests.get(f"{url}/__admin/verdict", timeout=10).json()["verdict"] == "clean"
        requests.get(f"{url}/v1/contacts", params={"per_page": 501}, timeout=10)  # no token, and per_page too big
    finally:
        served.send_signal(signal.SIGTERM)
        out, err = served.communicate(timeout=60)

    assert served.returncode == 1, err
    report = json.loads(out)
    assert (report["suite"], report["version"]) == (CONSUMER_SUITE, CONSUMER_VERSION)
    failed = {c["id"]: c for c in report["checks"] if c["status"] == "fail"}
    assert set(failed) == {"oauth.token.sent"}, failed  # a 401 comes before the parameters are read
    assert failed["oauth.token.sent"]["severity"] == "error"
    evidence = failed["oauth.token.sent"]["evidence"][0]
    assert evidence["request"]["url"] == f"{url}/v1/contacts?per_page=501" and evidence["response"]["status"] == 401
    assert evidence["note"].startswith("journal #")
    cases = {case.name: case for suite in JUnitXml.fromfile(str(junit)) for case in suite}
    assert isinstance(cases["oauth.token.sent"].result[0], Failure)
    assert cases["contract.request.valid"].is_passed
    page = html.read_text(encoding="utf-8")
    assert "oauth.token.sent" in page and not re.search(r"<script|<link|<img|src=", page, re.IGNORECASE)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["maria", "agentbuddy_down_during_delivery"])
def test_our_reference_integration_comes_out_clean_after_a_library_replay(kit, scenario):
    loaded = load(scenario)
    fake = launch_fake(loaded)  # the fake a replay starts for itself, judged before it stops
    try:
        result = replay(loaded, agentbuddy_url=fake.url)
        run = kit("verify", "broadcast", "--url", fake.url, "--json")
        verdict = AdminClient(fake.url).verdict()
    finally:
        fake.stop()

    assert result["passed"] and result["error"] is None
    assert verdict["findings"] == [], [(f["id"], f["message"]) for f in verdict["findings"]]
    assert run.exit_code == 0, run.stderr
    exercised = {c["id"] for c in run.report["checks"] if c["status"] == "pass"}
    assert {"oauth.pkce.s256", "oauth.token.paced", "webhooks.signature.valid", "webhooks.event.once",
            "paging.sweep.incremental", "ratelimit.quota.respected"} <= exercised


def test_the_verify_group_offers_both_sides_of_the_contract(kit):
    run = kit("verify", "--help")

    assert run.exit_code == 0
    assert re.search(r"agentbuddy\s+Check an AgentBuddy", run.stdout) and re.search(r"broadcast\s+Serve the fake", run.stdout)


def test_the_rules_are_listed_with_their_severity_and_clause(kit):
    run = kit("verify", "broadcast", "--list")

    assert run.exit_code == 0
    assert "ratelimit.retry_after.honoured" in run.stdout and "warning" in run.stdout and "RFC 7636" in run.stdout


def test_a_port_in_use_is_one_sentence_and_exit_2(kit):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = kit("verify", "broadcast", "--port", str(taken.getsockname()[1]))

    assert run.exit_code == 2
    assert re.fullmatch(r"Error: Cannot serve the fake on 127\.0\.0\.1:\d+: .+\(choose another --port, or 0 for any "
                        r"free one\)\.\n", run.stderr), run.stderr


@pytest.mark.parametrize("args, says", [
    (["--port", "70000"], "Invalid value for '--port'"),
    (["--rate-limit", "lots"], "rate limit must look like 600/min"),
    (["--log-size", "5"], "Invalid value for '--log-size'"),
    (["--no-such-flag"], "No such option"),
])
def test_invalid_flags_are_one_sentence_and_exit_2(kit, args, says):
    run = kit("verify", "broadcast", *args)

    assert run.exit_code == 2
    assert says in run.stderr and "Traceback" not in run.stderr + run.stdout


def test_a_url_without_a_fake_behind_it_is_one_sentence_and_exit_2(kit, free_port):
    run = kit("verify", "broadcast", "--url", f"http://127.0.0.1:{free_port}")

    assert run.exit_code == 2
    assert run.stderr == f"Error: Cannot reach a fake AgentBuddy at http://127.0.0.1:{free_port} (ConnectionError).\n"


def test_a_fake_nobody_used_has_nothing_to_judge(kit):
    app = create_app(MockConfig(contacts_per_account=5))
    try:
        with serve(app, name="mock") as served:
            run = kit("verify", "broadcast", "--url", served.url)
    finally:
        stop_background(app)

    assert run.exit_code == 2
    assert "recorded no request from a client: nothing to judge" in run.stderr
