"""`--interactive`: the kit opens the consent page in a browser (here a robot run through the
standard `BROWSER` variable) and catches the redirect on a loopback port of its own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROBOT = Path(__file__).with_name("robot_browser.py")


def test_interactive_authorization_runs_the_oauth_checks(serve_fake):
    fake = serve_fake()
    env = {**os.environ, "BROWSER": f"{sys.executable} {ROBOT} %s", "AB_TEST_AGENT": fake.agent(0)}
    command = [str(Path(sys.executable).with_name("ab-harness")), "verify", "agentbuddy", "--url", fake.url,
               "--no-admin", "--client-id", "broadcast-local", "--client-secret", "broadcast-local-secret",
               "--interactive", "--interactive-timeout", "60", "--only", "oauth", "--only", "api.paging", "--json"]

    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)

    report = json.loads(done.stdout)
    outcomes = {c["id"]: c for c in report["checks"]}
    assert done.returncode == 0, {k: v["detail"] for k, v in outcomes.items() if v["status"] == "fail"}
    assert {k for k, v in outcomes.items() if v["status"] == "skip"} == {"oauth.token.expired"}
    assert "Approve the connection in your browser" in done.stderr
