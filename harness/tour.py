"""A short scripted tour of the fake AgentBuddy: what a Broadcast developer does on day one.

OAuth connect (code + PKCE, as a third-party client), one page of contacts, one signed
engagement webhook, and what the fake recorded — printed for a person to read.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import requests
from rich.console import Console
from rich.table import Table
from standardwebhooks import Webhook

from common.serving import serve
from common.timestamps import format_rfc3339, parse_rfc3339
from harness.oauth import headless_token
from mock_agentbuddy import create_app
from mock_agentbuddy.config import MockConfig


@dataclass
class TourResult:
    """What the tour saw, so tests can check it as well as a person can read it."""

    account_id: str = ""
    login: str = ""
    scopes: list[str] = field(default_factory=list)
    contacts_total: int = 0
    contacts_shown: list[dict] = field(default_factory=list)
    webhook_status: int = 0
    replay_status: int = 0
    inbound: list[dict] = field(default_factory=list)
    contact_after: dict = field(default_factory=dict)


def start_fake(seed: int):
    """The fake on a free loopback port; `.url`, `.stop()`."""
    return serve(create_app(MockConfig(seed=seed, auto_approve=True, contacts_per_account=120)))


def signed_post(url: str, secret: str, payload: dict, message_id: str, when) -> requests.Response:
    body = json.dumps(payload, separators=(",", ":"))
    signature = Webhook(secret).sign(message_id, when, body)
    headers = {"content-type": "application/json", "webhook-id": message_id,
               "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": signature}
    return requests.post(url, data=body, headers=headers, timeout=10)


def run_tour(base_url: str, seed: int) -> TourResult:
    result = TourResult()
    world = requests.get(f"{base_url}/__admin/world", timeout=10).json()
    account = world["accounts"][0]
    result.account_id = account["id"]
    result.login = next(a["email"] for a in account["agents"] if a["is_active"] and not a["deleted_at"])
    token = headless_token(base_url, result.login)
    result.scopes = token.get("scope", "").split()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token['access_token']}"

    page = api.get(f"{base_url}/v1/contacts", params={"per_page": 5}, timeout=10).json()
    result.contacts_total = page["pagination"]["total"]
    result.contacts_shown = page["data"]

    connection = api.get(f"{base_url}/v1/connection", timeout=10).json()
    contact = page["data"][0]
    now = parse_rfc3339(world["now"])
    event = {
        "event_type": "email.opened", "timestamp": format_rfc3339(now, digits=0),
        "data": {"event_id": str(uuid.UUID(int=seed)), "contact_id": contact["id"],
                 "campaign_id": "bc_campaign_456", "campaign_name": "January Market Update"},
    }
    message_id = f"msg_tour_{seed}"
    url = f"{base_url}/v1/webhooks/broadcast/{connection['id']}/events"  # the connection's own route
    result.webhook_status = signed_post(url, connection["webhook_signing_secret"], event, message_id, now).status_code
    # The same message again, as a retrying sender would: acknowledged, applied once.
    result.replay_status = signed_post(url, connection["webhook_signing_secret"], event, message_id, now).status_code
    result.inbound = requests.get(f"{base_url}/__admin/inbound", timeout=10).json().get("entries", [])
    result.contact_after = api.get(f"{base_url}/v1/contacts/{contact['id']}", timeout=10).json()
    return result


def print_tour(console: Console, base_url: str, result: TourResult) -> None:
    console.rule("[bold]The fake AgentBuddy")
    console.print(f"serving at {base_url} (OAuth client broadcast-local / broadcast-local-secret)")
    console.print(f"1. OAuth code + PKCE as [bold]{result.login}[/] → account {result.account_id}, "
                  f"scopes: {' '.join(result.scopes)}")
    table = Table(title=f"2. GET /v1/contacts?per_page=5 (of {result.contacts_total})")
    for column in ("id", "name", "email", "type", "opt-in", "updated_at"):
        table.add_column(column)
    for c in result.contacts_shown:
        table.add_row(c["id"], f"{c['first_name']} {c['last_name']}", c["email"], c.get("contact_type") or "",
                      "yes" if c["email_opt_in"] else "no", c["updated_at"])
    console.print(table)
    console.print(f"3. signed email.opened webhook → HTTP {result.webhook_status}; "
                  f"the same webhook-id again → HTTP {result.replay_status}")
    for entry in result.inbound[-2:]:
        console.print(f"   inbound: {entry.get('path')} signature={entry.get('signature')} "
                      f"duplicate={entry.get('duplicate')} applied={entry.get('applied')}")
    campaigns = ", ".join(f"{c['name']} → {c['status']}" for c in result.contact_after.get("campaigns") or [])
    console.print(f"4. GET /v1/contacts/{result.contact_after.get('id')} now shows campaign participation "
                  f"received from Broadcast: {campaigns or 'none'}")
