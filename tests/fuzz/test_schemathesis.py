"""The contract's own fuzzer finds nothing wrong with the fake.

Runs the schemathesis CLI exactly as `make fuzz` does — every check, the stateful phase, a fixed
seed, a real OAuth token obtained through the code + PKCE flow — against the fake served on a
free loopback port. A failure prints schemathesis' own report.
"""
from __future__ import annotations

import re
import subprocess

import pytest

from harness import fuzz as fuzz_command
from harness.oauth import headless_token

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fake_agentbuddy():
    server = fuzz_command.launch_mock(seed=7)
    yield server
    server.stop()


def test_schemathesis_finds_nothing_with_all_checks_and_the_stateful_phase(fake_agentbuddy, tmp_path):
    url = fake_agentbuddy.url
    token = headless_token(url, fuzz_command.first_agent_email(url))["access_token"]
    command = fuzz_command.schemathesis_command(
        url, token, seed=42, max_examples=15, phases=fuzz_command.ALL_PHASES, report_dir=tmp_path)
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    report = result.stdout
    assert result.returncode == 0, report[-20000:] + result.stderr[-5000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    tested = re.search(r"Tested: (\d+)", report)
    assert selected and tested and selected.group(1) == selected.group(2) == tested.group(1), report[-3000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report[-3000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts and counts.group(1) == counts.group(2) and int(counts.group(1)) > 500, report[-3000:]
