"""The fake's verdict on its client: a well-behaved client comes out clean, and each small,
scripted bad client is caught by exactly the rule about what it did wrong — nothing else fires.

The clients talk to the fake through Flask's test client (the verdict reads only the fake's own
logs, however the requests arrived), on a frozen clock the tests move.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
from flask import Flask

from common.serving import serve
from common.timestamps import format_rfc3339
from common.webhooks import signed_headers
from mock_agentbuddy import create_app, state_of, stop_background
from mock_agentbuddy.config import ALL_SCOPES, RetryPolicy
from mock_agentbuddy.verdict import rules

from .mock_helpers import REDIRECT_URI, first_active_agent, obtain_token, small_config

START = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone.utc)


class Client:
    """A Broadcast client of the fake, well-behaved unless a test makes it misbehave."""

    def __init__(self, app) -> None:
        self.app, self.http = app, app.test_client()
        self.set_clock(START)
        world = self.http.get("/__admin/world").get_json()
        self.email = first_active_agent(world)["email"]
        self._contact: str | None = None
        self.tokens = self.connect()

    # -- the fake's clock and verdict ----------------------------------------------------------
    def set_clock(self, at: datetime) -> None:
        self.http.post("/__admin/clock", json={"set": format_rfc3339(at, digits=6), "freeze": True})

    def advance(self, seconds: float) -> None:
        self.http.post("/__admin/clock", json={"advance_seconds": seconds})

    def now(self) -> datetime:
        return datetime.fromisoformat(self.http.get("/__admin/clock").get_json()["now"].replace("Z", "+00:00"))

    def verdict(self) -> dict:
        return self.http.get("/__admin/verdict").get_json()

    def found(self) -> set[str]:
        return {f["id"] for f in self.verdict()["findings"]}

    # -- OAuth ------------------------------------------------------------------------------
    def connect(self, scopes: str = " ".join(ALL_SCOPES)) -> dict:
        return obtain_token(self.http, self.email, scopes)

    def authorize(self, **params) -> str | None:
        query = {"response_type": "code", "client_id": "broadcast-local", "redirect_uri": REDIRECT_URI,
                 "scope": " ".join(ALL_SCOPES), "login_hint": self.email, **params}
        location = self.http.get("/oauth/authorize", query_string={k: v for k, v in query.items() if v is not None})
        return location.headers.get("Location")

    def token(self, **form) -> dict:
        answer = self.http.post("/oauth/token", data=form, auth=("broadcast-local", "broadcast-local-secret"))
        return answer.get_json()

    def refresh(self, refresh_token: str | None = None) -> dict:
        answer = self.token(grant_type="refresh_token", refresh_token=refresh_token or self.tokens["refresh_token"])
        if "access_token" in answer:
            self.tokens = answer
        return answer

    # -- the API ----------------------------------------------------------------------------
    def get(self, path: str, token: str | None = "mine", **params):
        headers = {"Authorization": f"Bearer {self.tokens['access_token'] if token == 'mine' else token}"} \
            if token else {}
        return self.http.get(path, query_string=params, headers=headers)

    def post(self, path: str, body: dict, method: str = "POST", **headers):
        return self.http.open(path, method=method, json=body,
                              headers={"Authorization": f"Bearer {self.tokens['access_token']}", **headers})

    def sweep(self, path: str, **params) -> list[dict]:
        records, cursor = [], None
        while True:
            page = self.get(path, **params, **({"cursor": cursor} if cursor else {})).get_json()
            records += page["data"]
            cursor = page["pagination"]["next_cursor"]
            if not cursor:
                return records

    def contact(self) -> str:
        """A contact to write on (read once: a client asking for page 1 again would ignore its cursor)."""
        if self._contact is None:
            self._contact = self.get("/v1/contacts", per_page=1).get_json()["data"][0]["id"]
        return self._contact

    # -- webhooks ---------------------------------------------------------------------------
    def secret(self) -> str:
        return self.get("/v1/connection").get_json()["webhook_signing_secret"]

    def webhook(self, kind: str, body: dict, msg_id: str | None = None, secret: str | None = None,
                age: float = 0, drop: str | None = None, connection_id: str | None = None):
        """POST a signed body to the connection's own route (`connection_id=""`: the deprecated one)."""
        text = json.dumps(body)
        headers = signed_headers(secret or self.secret(), msg_id or f"msg_{secrets.token_hex(6)}",
                                 self.now() - timedelta(seconds=age), text)
        headers.pop(drop, None)
        if connection_id is None:
            connection_id = self.get("/v1/connection").get_json()["id"]
        route = f"{connection_id}/{kind}" if connection_id else kind
        return self.http.post(f"/v1/webhooks/broadcast/{route}", data=text, headers=headers)

    def email_event(self, event_id: str | None = None) -> dict:
        return {"event_type": "email.opened", "timestamp": format_rfc3339(self.now()),
                "data": {"event_id": event_id or f"evt_{secrets.token_hex(6)}", "contact_id": self.contact(),
                         "campaign_id": "cmp_1", "campaign_name": "Spring"}}


@pytest.fixture
def fake():
    """`fake(**MockConfig options)` -> a `Client` of a fresh fake (notification retries never wait)."""
    apps = []

    def start(**options) -> Client:
        options.setdefault("notification_retry", RetryPolicy(max_attempts=2, initial_delay=0))
        app = create_app(small_config(**options), sleeper=lambda _s: None)
        apps.append(app)
        return Client(app)

    yield start
    for app in apps:
        stop_background(app)


@pytest.fixture
def receiver():
    """Broadcast's notification endpoint, answering `status["code"]`."""
    app = Flask("receiver")
    status = {"code": 204}
    app.add_url_rule("/notifications", "n", lambda: ("", status["code"]), methods=["POST"])
    with serve(app, name="receiver") as served:
        yield f"{served.url}/notifications", status


def a_good_day(client: Client, receiver_url: str) -> None:
    """What a well-behaved client does: sweep, sync incrementally, deliver, take notifications."""
    client.get("/v1/connection")
    contacts = client.sweep("/v1/contacts", per_page=25, include_deleted="true")
    client.sweep("/v1/offices", per_page=100)
    client.advance(900)
    client.sweep("/v1/contacts", per_page=100, updated_since=max(c["updated_at"] for c in contacts))
    assert client.webhook("events", client.email_event()).status_code == 200
    assert client.post(f"/v1/contacts/{client.contact()}/engagement", {"total_opens": 3}, "PATCH",
                       **{"Idempotency-Key": "key-1"}).status_code == 200
    client.post("/v1/subscriptions", {"url": receiver_url, "events": ["contact.*"]})
    client.http.post("/__admin/mutate", json={"entity": "contact", "op": "update", "id": client.contact(),
                                              "changes": {"phone": "+1-512-555-0100"}})
    assert state_of(client.app).notifier.wait_idle()
    client.advance(3000)
    client.refresh()
    client.get("/v1/connection")


def test_a_well_behaved_client_is_clean_and_every_rule_it_exercised_passes(fake, receiver):
    client = fake()

    a_good_day(client, receiver[0])

    verdict = client.verdict()
    assert verdict["verdict"] == "clean" and verdict["findings"] == []
    statuses = {r["id"]: r["status"] for r in verdict["rules"]}
    assert {rule for rule, status in statuses.items() if status == "skip"} == {"ratelimit.retry_after.honoured"}
    assert verdict["judged"]["notifications"] >= 1 and verdict["judged"]["inbound"] == 2


# -- bad clients: each does one thing wrong ---------------------------------------------------------

def broken_body(client: Client, _url) -> None:
    client.post(f"/v1/contacts/{client.contact()}/propensity", {"propensity_score": 101, "propensity_category": "hot"})


def unknown_operation(client: Client, _url) -> None:
    client.get("/v1/leads")


def no_pkce(client: Client, _url) -> None:
    client.authorize(state="s1")


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def no_state(client: Client, _url) -> None:
    client.authorize(code_challenge=pkce()[1], code_challenge_method="S256")


def code_twice(client: Client, _url) -> None:
    verifier, challenge = pkce()
    location = client.authorize(state="s2", code_challenge=challenge, code_challenge_method="S256")
    code = location.split("code=", 1)[1].split("&", 1)[0]
    for _ in range(2):
        client.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)


def spent_refresh_token(client: Client, _url) -> None:
    spent = client.tokens["refresh_token"]
    client.refresh()
    client.refresh(spent)


def refresh_on_every_call(client: Client, _url) -> None:
    for _ in range(12):
        client.refresh()
        client.get("/v1/connection")
        client.advance(60)


def no_token(client: Client, _url) -> None:
    client.get("/v1/connection", token=None)


def expired_token(client: Client, _url) -> None:
    client.advance(3600 + 5)
    client.get("/v1/contacts")


def missing_scope(client: Client, _url) -> None:
    client.tokens = client.connect(" ".join(s for s in ALL_SCOPES if s != "read:offices"))
    client.get("/v1/offices")


def per_page_too_big(client: Client, _url) -> None:
    client.get("/v1/contacts", per_page=501)


def first_page_again(client: Client, _url) -> None:
    client.get("/v1/contacts", per_page=10)
    client.get("/v1/contacts", per_page=10)


def forged_cursor(client: Client, _url) -> None:
    client.get("/v1/contacts", cursor=base64.urlsafe_b64encode(secrets.token_bytes(33)).decode())


def full_sweep_every_ten_minutes(client: Client, _url) -> None:
    for _ in range(3):
        client.sweep("/v1/contacts", per_page=500)
        client.advance(600)


def retry_after_ignored(client: Client, _url) -> None:
    client.http.post("/__admin/faults", json={"faults": [{"kind": "rate_limit", "count": 1, "retry_after": 30}]})
    client.get("/v1/connection")
    client.get("/v1/connection")


def past_the_quota(client: Client, _url) -> None:
    for _ in range(4):
        client.get("/v1/connection")


def burst_across_windows(client: Client, _url) -> None:
    client.set_clock(START.replace(minute=1, second=59, microsecond=500_000))
    for _ in range(3):
        client.get("/v1/connection")
    client.advance(1)
    for _ in range(3):
        client.get("/v1/connection")


def unsigned_header_missing(client: Client, _url) -> None:
    client.webhook("events", client.email_event(), drop="webhook-signature")


def deprecated_route(client: Client, _url) -> None:
    client.webhook("events", client.email_event(), connection_id="")


def unknown_connection(client: Client, _url) -> None:
    client.webhook("events", client.email_event(), connection_id="ab_conn_nobody")


def wrong_secret(client: Client, _url) -> None:
    client.webhook("events", client.email_event(), secret="whsec_" + base64.b64encode(b"x" * 32).decode())


def stale_timestamp(client: Client, _url) -> None:
    client.webhook("events", client.email_event(), age=400)


def one_webhook_id_two_payloads(client: Client, _url) -> None:
    client.webhook("events", client.email_event(), msg_id="msg_same")
    client.webhook("events", client.email_event(), msg_id="msg_same")


def one_idempotency_key_two_bodies(client: Client, _url) -> None:
    contact = client.contact()
    for opens in (1, 2):
        client.post(f"/v1/contacts/{contact}/engagement", {"total_opens": opens}, "PATCH", **{"Idempotency-Key": "k"})


def one_event_two_ids(client: Client, _url) -> None:
    event = client.email_event("evt_once")
    client.webhook("events", event, msg_id="msg_a")
    client.webhook("events", event, msg_id="msg_b")


def receiver_refuses_notifications(client: Client, url) -> None:
    client.post("/v1/subscriptions", {"url": url, "events": ["contact.*"]})
    client.http.post("/__admin/mutate", json={"entity": "contact", "op": "update", "id": client.contact(),
                                              "changes": {"phone": "+1-512-555-0101"}})
    assert state_of(client.app).notifier.wait_idle()


BAD_CLIENTS: list[tuple[str, Callable, dict]] = [
    ("contract.request.valid", broken_body, {}),
    ("contract.operation.known", unknown_operation, {}),
    ("oauth.pkce.s256", no_pkce, {}),
    ("oauth.state.sent", no_state, {}),
    ("oauth.code.single_use", code_twice, {}),
    ("oauth.refresh.single_use", spent_refresh_token, {}),
    ("oauth.token.paced", refresh_on_every_call, {}),
    ("oauth.token.sent", no_token, {}),
    ("oauth.token.fresh", expired_token, {}),
    ("oauth.scope.granted", missing_scope, {}),
    ("paging.per_page.bounds", per_page_too_big, {}),
    ("paging.cursor.followed", first_page_again, {}),
    ("paging.cursor.issued", forged_cursor, {}),
    ("paging.sweep.incremental", full_sweep_every_ten_minutes, {}),
    ("ratelimit.retry_after.honoured", retry_after_ignored, {}),
    ("ratelimit.quota.respected", past_the_quota, {"rate_limit": "3/min"}),
    ("ratelimit.burst", burst_across_windows, {"rate_limit": "3/min"}),
    ("webhooks.route.connection", deprecated_route, {}),
    ("webhooks.route.known", unknown_connection, {}),
    ("webhooks.headers.present", unsigned_header_missing, {}),
    ("webhooks.signature.valid", wrong_secret, {}),
    ("webhooks.timestamp.current", stale_timestamp, {}),
    ("webhooks.id.unique", one_webhook_id_two_payloads, {}),
    ("webhooks.id.unique", one_idempotency_key_two_bodies, {}),
    ("webhooks.event.once", one_event_two_ids, {}),
    ("notifications.receiver.accepts", receiver_refuses_notifications, {}),
]


@pytest.mark.parametrize("rule_id, misbehave, options", BAD_CLIENTS,
                         ids=[f"{rule_id}:{misbehave.__name__}" for rule_id, misbehave, _ in BAD_CLIENTS])
def test_each_kind_of_bad_traffic_is_found_by_its_rule_and_no_other(fake, receiver, rule_id, misbehave, options):
    client = fake(**options)
    receiver[1]["code"] = 401  # a receiver whose signature check is broken

    misbehave(client, receiver[0])

    verdict = client.verdict()
    assert {f["id"] for f in verdict["findings"]} == {rule_id}, [(f["id"], f["message"]) for f in verdict["findings"]]
    found = next(f for f in verdict["findings"] if f["id"] == rule_id)
    assert found["severity"] in ("error", "warning") and found["rule"] and found["message"]
    assert found["evidence"] and all(e["seq"] and e["request"] for e in found["evidence"])


def test_every_rule_has_a_bad_client_that_trips_it():
    assert {rule_id for rule_id, _, _ in BAD_CLIENTS} == {r.id for r in rules()}


def test_the_verdict_says_what_rolled_off_the_logs(fake):
    client = fake(journal_size=20)
    for _ in range(30):
        client.get("/v1/connection")

    judged = client.verdict()["judged"]

    assert judged["journal_rolled_off"] > 0 and judged["requests"] <= 20
