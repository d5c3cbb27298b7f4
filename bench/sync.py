"""Initial sync of one AgentBuddy account with 100,000 contacts (plus offices, agents and
~60,000 properties) from the fake over loopback, into SQLite and, when a URL is given,
PostgreSQL. Target (spec phase 2): a typical account in < 10 s; we aim for a few seconds.

The fake runs as a separate process (`python -m mock_agentbuddy`), so the figures are the
integration's own: HTTP + JSON decoding + validation + mapping + batched upserts. Its rate limit
is lifted so the benchmark measures throughput, not the quota (600/min would allow the ~330
pages anyway, but not twice in a minute).

Run: `.venv/bin/python -m bench.sync [--contacts N] [--postgres-url URL]` or `ab-harness bench --only sync`.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import requests
from cryptography.fernet import Fernet

from common.serving import free_port
from integration.agentbuddy import connections, tokens
from integration import sync as sync_engine
from integration.config import IntegrationConfig
from integration.storage import Database

from .databases import each_database

CONTACTS = 100_000
RESYNC_RUNS = 3
ROOT = Path(__file__).resolve().parent.parent



@contextmanager
def fake_process(contacts: int, accounts: int = 1, rate_limit: str = "1000000/min") -> Iterator[str]:
    """The fake in its own process on a free port, auto-approving; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "mock_agentbuddy", "--port", str(port), "--accounts", str(accounts),
               "--contacts-per-account", str(contacts), "--auto-approve", "--rate-limit", rate_limit]
    log = tempfile.TemporaryFile()  # request logs go here; an unread pipe would fill and stall the fake
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the fake exited: {log.read().decode()[-2000:]}")
            try:
                if requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the fake did not start within 300 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _measure(db: Database, url: str, label: str) -> dict[str, Any]:
    config = IntegrationConfig(agentbuddy_url=url, token_key=Fernet.generate_key().decode(),
                               redirect_uri="http://127.0.0.1/callback", sync_page_size=500)
    db.migrate()
    world = requests.get(f"{url}/__admin/world", timeout=30).json()
    agent = next(a for a in world["accounts"][0]["agents"] if a["is_active"])
    connections.connect_headless(db, config, "org_bench", agent["email"])

    client = tokens.client_for(db, config, "org_bench")
    initial = sync_engine.sync(db, config, "org_bench", client=client)
    http_seconds = client.stats.seconds
    client.close()
    again = sync_engine.sync(db, config, "org_bench")
    # The no-change resync swings by ±10% from run to run on a 2-core machine: quote a median.
    full_again = [sync_engine.sync(db, config, "org_bench", full=True).seconds for _ in range(RESYNC_RUNS)]
    totals = initial.totals
    with db.transaction(readonly=True) as tx:
        stored = tx.fetchval("SELECT count(*) AS n FROM contacts WHERE organization_id = 'org_bench'")
    figures = {
        "database": label,
        "initial_seconds": initial.seconds,
        "records": totals.records,
        "contacts": initial.entities["contacts"].records,
        "contacts_stored": stored,
        "contacts_seconds": initial.entities["contacts"].seconds,
        "contacts_per_second": round(initial.entities["contacts"].records / initial.entities["contacts"].seconds),
        "seconds_by_entity": {name: e.seconds for name, e in initial.entities.items()},
        "records_per_second": round(totals.records / initial.seconds),
        "http_seconds": round(http_seconds, 2),
        "pages": totals.pages,
        "incremental_no_change_seconds": again.seconds,
        "full_resync_no_change_seconds": statistics.median(full_again),
        "full_resync_no_change_runs": full_again,
    }
    print(json.dumps(figures))
    return figures


def run(postgres_url: str | None = None, contacts: int = CONTACTS) -> dict[str, Any]:
    results: dict[str, Any] = {"contacts_per_account": contacts}
    with fake_process(contacts) as url:
        for name, db in each_database(postgres_url, migrate=False):
            results[name] = _measure(db, url, name)
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=CONTACTS)
    parser.add_argument("--postgres-url", default=os.environ.get("AB_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    print(json.dumps(run(args.postgres_url, args.contacts), indent=2))
