"""The provider conformance kit (`ab-harness verify agentbuddy`) against the fake as a partner
would start it (`--auto-approve`, two accounts, the default 600/min quota, so the 429 check
spends a real quota). Target: the whole suite well under a minute.

The kit runs as its own process, exactly the command a partner types; the figures are its wall
time and the seconds it reports, with the pass/fail/skip counts beside them.

Run: `.venv/bin/python -m bench.conformance` or `ab-harness bench --only conformance`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.sync import fake_process

KIT = [str(Path(sys.executable).with_name("ab-harness")), "verify", "agentbuddy", "--json"]


def run() -> dict[str, Any]:
    with fake_process(200, accounts=2, rate_limit="600/min") as url:
        started = time.perf_counter()
        done = subprocess.run(KIT + ["--url", url], capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - started
    report = json.loads(done.stdout)
    return {"checks": len(report["checks"]), **report["summary"], "kit_seconds": report["seconds"],
            "wall_seconds": round(wall, 2), "exit_status": done.returncode}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
