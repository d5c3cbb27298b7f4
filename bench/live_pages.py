"""Pages while a story plays: what a person watching `ab-harness serve` waits for each page.

Maria's story plays at full speed on the served stack (200 contacts in the account, connected
headlessly) while one client asks, round after round, for every page and fragment a watcher's
browser polls on both sides. The story writes Broadcast's database in a thread of its own,
short transactions between its steps, so a page should never wait for a day to end.
Figures per page: requests, median, p95 and max milliseconds; the story's own wall seconds.

Target (harness/bench.py): no page request over 1 s while the story plays.
Run: `.venv/bin/python -m bench.live_pages` or `ab-harness bench --only live_pages`.
"""
from __future__ import annotations

import json
import statistics
import time
from typing import Any

import requests
from cryptography.fernet import Fernet

from harness.serve import start_stack
from integration.agentbuddy import connections


def run(story: str = "maria") -> dict[str, Any]:
    stack = start_stack(contacts=200, token_key=Fernet.generate_key().decode(), auto_approve=True)
    try:
        connections.connect_headless(stack.db, stack.config, stack.config.default_organization_id,
                                     stack.login_email, clock=stack.clock)
        started = time.perf_counter()
        stack.player.play(story, speed=None)
        while not stack.player.status().people and stack.player.status().running:
            time.sleep(0.02)
        contact = stack.player.status().people[0].agentbuddy_id
        pages = {
            "broadcast settings": f"{stack.web.url}/settings/integrations/agentbuddy",
            "broadcast contacts": f"{stack.web.url}/contacts",
            "broadcast contact": f"{stack.web.url}/contacts/{contact}",
            "broadcast contact (live)": f"{stack.web.url}/contacts/{contact}/live",
            "broadcast delivery (live)": f"{stack.web.url}/settings/integrations/agentbuddy/delivery",
            "broadcast status bar": f"{stack.web.url}/live/bar",
            "broadcast story panel": f"{stack.web.url}/live/panel",
            "agentbuddy record": f"{stack.fake.url}/ui/contacts/{contact}",
            "agentbuddy record (live)": f"{stack.fake.url}/ui/contacts/{contact}/live",
            "agentbuddy inbound (live)": f"{stack.fake.url}/ui/inbound/live",
        }
        waits: dict[str, list[float]] = {name: [] for name in pages}
        http = requests.Session()
        while stack.player.status().running:
            for name, url in pages.items():
                asked = time.perf_counter()
                http.get(url, timeout=30).raise_for_status()
                waits[name].append(time.perf_counter() - asked)
        status = stack.player.wait(600)
        story_seconds = time.perf_counter() - started
    finally:
        stack.stop()
    figures = {name: _summary(times) for name, times in waits.items()}
    return {"story": story, "story_state": status.state, "story_passed": status.passed,
            "story_seconds": round(story_seconds, 2), "slowest_ms": max(f["max_ms"] for f in figures.values()),
            "pages": figures}


def _summary(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {"requests": len(ordered), "median_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
