"""Pages while a story plays: what a person watching `ab-harness serve` waits for each page.

`ab-harness serve --play maria --speed full` runs as its own process, exactly the command a
person types (200 contacts in the account, connected headlessly), while one client here asks,
round after round, for every page and fragment a watcher's browser polls on both sides. The
story writes Broadcast's database in a thread of its own, short transactions between its steps,
so a page should never wait for a day to end. Figures per page: requests, median, p95 and max
milliseconds; the story's wall seconds as the watcher saw them.

Target (harness/bench.py): no page request over 1 s while the story plays.
Run: `.venv/bin/python -m bench.live_pages` or `ab-harness bench --only live_pages`.
"""
from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

SERVE = [str(Path(sys.executable).with_name("ab-harness")), "serve", "--free-ports", "--contacts", "200",
         "--speed", "full", "--play"]
URL = re.compile(r"^(Broadcast|AgentBuddy)\s+(http://127\.0\.0\.1:\d+)/")


def run(story: str = "maria") -> dict[str, Any]:
    env = {**os.environ, "AB_HARNESS_TOKEN_KEY": Fernet.generate_key().decode(), "PYTHONUNBUFFERED": "1"}
    serving = subprocess.Popen(SERVE + [story], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        urls: dict[str, str] = {}
        for line in serving.stdout:
            found = URL.match(line)
            if found:
                urls[found.group(1)] = found.group(2)
            if line.startswith("Playing "):
                break
        # the story's lines go on coming: read them away, or a full pipe would stall the server
        threading.Thread(target=serving.stdout.read, daemon=True).start()
        http = requests.Session()
        started = time.perf_counter()
        status = _status(http, urls["Broadcast"])
        while status["running"] and not any(p["agentbuddy_id"] for p in status["people"]):
            status = _status(http, urls["Broadcast"])
        contact = status["people"][0]["agentbuddy_id"]
        pages = _pages(urls["Broadcast"], urls["AgentBuddy"], contact)
        waits: dict[str, list[float]] = {name: [] for name in pages}
        while status["running"]:
            for name, url in pages.items():
                asked = time.perf_counter()
                http.get(url, timeout=30).raise_for_status()
                waits[name].append(time.perf_counter() - asked)
            status = _status(http, urls["Broadcast"])
        story_seconds = time.perf_counter() - started
    finally:
        serving.send_signal(signal.SIGTERM)
        serving.wait(timeout=120)
    figures = {name: _summary(times) for name, times in waits.items() if times}
    return {"story": story, "story_state": status["state"], "story_passed": status["passed"],
            "story_seconds": round(story_seconds, 2),
            "slowest_ms": max((f["max_ms"] for f in figures.values()), default=None), "pages": figures}


def _status(http: requests.Session, broadcast: str) -> dict[str, Any]:
    return http.get(f"{broadcast}/live/status", timeout=30).json()


def _pages(broadcast: str, agentbuddy: str, contact: str) -> dict[str, str]:
    return {
        "broadcast settings": f"{broadcast}/settings/integrations/agentbuddy",
        "broadcast contacts": f"{broadcast}/contacts",
        "broadcast contact": f"{broadcast}/contacts/{contact}",
        "broadcast contact (live)": f"{broadcast}/contacts/{contact}/live",
        "broadcast delivery (live)": f"{broadcast}/settings/integrations/agentbuddy/delivery",
        "broadcast status bar": f"{broadcast}/live/bar",
        "broadcast story panel": f"{broadcast}/live/panel",
        "agentbuddy record": f"{agentbuddy}/ui/contacts/{contact}",
        "agentbuddy record (live)": f"{agentbuddy}/ui/contacts/{contact}/live",
        "agentbuddy inbound (live)": f"{agentbuddy}/ui/inbound/live",
    }


def _summary(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {"requests": len(ordered), "median_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
