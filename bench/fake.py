"""How fast the fake AgentBuddy serves a page of contacts to a client that load-tests against it.

The fake runs in its own process (`python -m mock_agentbuddy`, as a user starts it, contract
validation of every request on, rate limit lifted); `bench.loadgen` hammers
`GET /v1/contacts?per_page=N` with a valid token on 4 keep-alive connections from another
process. Figures: req/s and p50/p99 per page size, with the tool and connection count.

Targets (issue 11): per_page=100 >= 1,500 req/s with p99 <= 15 ms; per_page=500 >= 400 req/s.
Run: `.venv/bin/python -m bench.fake` or `ab-harness bench --only fake`.
"""
from __future__ import annotations

import json
import tempfile
from typing import Any

import requests
from cryptography.fernet import Fernet

from common.clock import SystemClock
from integration.agentbuddy import connections, tokens
from integration.config import IntegrationConfig
from integration.storage import Database

from .loadgen import load
from .sync import fake_process

CONTACTS = 10_000
CONNECTIONS = 4
SECONDS = 8.0
# per_page -> (req/s at least, p99 ms at most or None)
TARGETS = {100: (1500, 15.0), 500: (400, None)}


def bearer_token(url: str) -> str:
    """A token of an active agent, obtained as Broadcast obtains one (headless OAuth against
    the fake's auto-approve), kept in a throwaway SQLite database."""
    config = IntegrationConfig(agentbuddy_url=url, token_key=Fernet.generate_key().decode(),
                               redirect_uri="http://127.0.0.1/callback")
    world = requests.get(f"{url}/__admin/world", timeout=30).json()
    agent = next(a for a in world["accounts"][0]["agents"] if a["is_active"] and not a["deleted_at"])
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.from_url(f"sqlite:///{tmp}/token.sqlite3")
        try:
            db.migrate()
            connections.connect_headless(db, config, "org_bench", agent["email"])
            return tokens.TokenSource(db, config, "org_bench", clock=SystemClock()).access_token()
        finally:
            db.close()


def run(contacts: int = CONTACTS, seconds: float = SECONDS, connections_: int = CONNECTIONS) -> dict[str, Any]:
    results: dict[str, Any] = {"contacts_per_account": contacts}
    with fake_process(contacts) as url:
        token = bearer_token(url)
        for per_page, (min_rps, max_p99) in TARGETS.items():
            figures = load(url, f"/v1/contacts?per_page={per_page}", token=token, connections=connections_,
                           seconds=seconds)
            if set(figures["statuses"]) != {"200"}:
                raise RuntimeError(f"the fake answered {figures['statuses']} under load (expected only 200)")
            figures["target"] = f">= {min_rps} req/s" + (f", p99 <= {max_p99} ms" if max_p99 else "")
            figures["meets_target"] = figures["req_per_s"] >= min_rps and (
                max_p99 is None or (figures["p99_ms"] is not None and figures["p99_ms"] <= max_p99))
            results[f"per_page_{per_page}"] = figures
    results["meets_target"] = all(results[f"per_page_{n}"]["meets_target"] for n in TARGETS)
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=CONTACTS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    args = parser.parse_args()
    print(json.dumps(run(args.contacts, args.seconds, args.connections), indent=2))
