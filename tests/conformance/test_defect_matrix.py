"""The kit catches what it claims: for every defect switch of the fake, the full provider suite
fails exactly the checks the switch declares, and every other check ends as it does against the
clean fake (which passes everything).

Each run is what a user would type: `python -m mock_agentbuddy --defect NAME` in one process and
`ab-harness verify agentbuddy --json` in another. The runs go side by side (`JOBS` at a time, each
a fake and a kit, so both cores work), started once for every defect the session selected; each
test then reads its own run. Measured on the shared 2-core machine: the 16 full runs (every
switch and the clean fake) take about 110 s of wall time and 140 s of CPU.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.checks import all_checks
from mock_agentbuddy.defects import DEFECTS, markdown

pytestmark = pytest.mark.slow

CLEAN = "clean"
JOBS = 3  # each a fake and a kit process; more did not go faster on 2 cores (CPU-bound)
RUN_TIMEOUT = 300
README = Path(__file__).resolve().parents[2] / "README.md"
KIT = [sys.executable, "-c", "from harness.cli import main; main()"]
READY = re.compile(r"on (http://127\.0\.0\.1:\d+) ")


@dataclass
class Run:
    exit_code: int
    statuses: dict[str, str]  # check id -> pass | fail | skip
    details: dict[str, str]
    stderr: str

    def ids(self, status: str) -> set[str]:
        return {check for check, found in self.statuses.items() if found == status}


def run_against(defect: str | None) -> Run:
    """Serve the fake (with the defect) in its own process and run the whole kit against it."""
    args = [sys.executable, "-m", "mock_agentbuddy", "--port", "0", "--auto-approve"]
    if defect is not None:
        args += ["--defect", defect]
    fake = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = _wait_for_url(fake)
        done = subprocess.run([*KIT, "verify", "agentbuddy", "--url", url, "--json"], capture_output=True,
                              text=True, timeout=RUN_TIMEOUT)
    finally:
        fake.terminate()
        fake.wait(timeout=30)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"checks": []}
    return Run(done.returncode, {c["id"]: c["status"] for c in report["checks"]},
               {c["id"]: c["detail"] for c in report["checks"]}, done.stderr)


def _wait_for_url(fake: subprocess.Popen) -> str:
    seen = []
    for line in fake.stdout:
        seen.append(line)
        found = READY.search(line)
        if found:
            return found.group(1)
    raise AssertionError("the fake did not start:\n" + "".join(seen))


@pytest.fixture(scope="module")
def matrix(request) -> dict[str, Future]:
    """One run per defect the session selected (and the clean fake), started together."""
    wanted = [CLEAN]
    for item in request.session.items:
        name = getattr(item, "callspec", None) and item.callspec.params.get("defect")
        if name and name not in wanted:
            wanted.append(name)
    pool = ThreadPoolExecutor(max_workers=JOBS)
    runs = {name: pool.submit(run_against, None if name == CLEAN else name) for name in wanted}
    yield runs
    pool.shutdown(wait=True)


def test_the_clean_fake_passes_every_check(matrix):
    clean = matrix[CLEAN].result()

    assert clean.exit_code == 0, clean.stderr
    assert clean.ids("pass") == {c.id for c in all_checks()}, {k: v for k, v in clean.details.items()
                                                               if clean.statuses[k] != "pass"}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_defect_fails_exactly_its_checks_and_nothing_else_changes(matrix, defect):
    clean, run = matrix[CLEAN].result(), matrix[defect].result()

    assert run.exit_code == 1, run.stderr
    assert run.ids("fail") == set(DEFECTS[defect].trips), {k: run.details[k] for k in run.ids("fail")}
    changed = {check: (clean.statuses.get(check), found) for check, found in run.statuses.items()
               if check not in DEFECTS[defect].trips and found != clean.statuses.get(check)}
    assert changed == {}
    assert set(run.statuses) == set(clean.statuses) == {c.id for c in all_checks()}


def test_every_declared_trip_is_a_check_of_the_kit():
    ids = {c.id for c in all_checks()}

    assert {trip for d in DEFECTS.values() for trip in d.trips} <= ids


def test_the_readme_lists_every_switch_and_what_it_trips():
    text = README.read_text(encoding="utf-8")
    table = text.split("<!-- defects:start -->", 1)[1].split("<!-- defects:end -->", 1)[0].strip()

    assert table == markdown(), "regenerate the table with `python -m mock_agentbuddy.defects`"
