"""Each fault profile, seen from a requests client the way Broadcast's client would see it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from mock_agentbuddy.admin.client import AdminClient, AdminError

from .mock_helpers import SleepRecorder, first_active_agent, obtain_token, small_config


def token_for(app) -> str:
    client = app.test_client()
    world = client.get("/__admin/world").get_json()
    return obtain_token(client, first_active_agent(world)["email"],
                        "read:contacts read:offices read:agents read:properties write:engagement")["access_token"]


def set_faults(base: str, faults: list[dict] | None = None, profile: str | None = None) -> dict:
    return AdminClient(base).set_faults(faults, profile=profile)


@pytest.fixture
def served(live_mock):
    sleeps = SleepRecorder()
    base, app = live_mock(small_config(), sleeper=sleeps)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token_for(app)}"
    return base, session, sleeps


def test_error_bursts_are_problem_json_and_then_recover(served):
    base, session, _ = served
    set_faults(base, faults=[{"kind": "error", "status": 503, "operations": ["listContacts"], "burst": 2, "count": 2,
                              "retry_after": 3}])
    first, second, third = (session.get(f"{base}/v1/contacts", timeout=5) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.headers["Retry-After"] == "3"
    assert first.json()["code"] == "service_unavailable"
    assert session.get(f"{base}/v1/offices", timeout=5).status_code == 200, "other operations unaffected"


def test_storm_429_has_retry_after(served):
    base, session, _ = served
    set_faults(base, faults=[{"kind": "rate_limit", "burst": 3, "count": 3, "retry_after": 2}])
    answers = [session.get(f"{base}/v1/contacts", timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200]
    assert answers[0].headers["Retry-After"] == "2" and answers[0].json()["code"] == "rate_limited"


def test_connection_reset_drops_the_connection(served):
    base, session, _ = served
    set_faults(base, faults=[{"kind": "reset", "count": 1}])
    with pytest.raises(requests.ConnectionError):
        session.get(f"{base}/v1/contacts", timeout=5)
    assert session.get(f"{base}/v1/contacts", timeout=5).status_code == 200


def test_truncated_body_breaks_mid_read(served):
    base, session, _ = served
    set_faults(base, faults=[{"kind": "truncate", "count": 1}])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(f"{base}/v1/contacts", timeout=5)


def test_slow_drip_and_latency_go_through_the_sleeper(served):
    base, session, sleeps = served
    set_faults(base, faults=[{"kind": "latency", "latency_ms": 250, "count": 1},
                             {"kind": "drip", "count": 1, "chunk_bytes": 100, "chunk_delay_ms": 40}])
    answer = session.get(f"{base}/v1/contacts", params={"per_page": 5}, timeout=5)
    assert answer.status_code == 200 and len(answer.json()["data"]) == 5
    assert sleeps.calls[0] == 0.25
    assert len(sleeps.calls) > 5 and set(sleeps.calls[1:]) == {0.04}


def test_receiver_down_window_on_the_fake_clock(served, live_mock):
    base, session, _ = served
    admin = AdminClient(base)
    admin.set_clock(datetime(2026, 2, 1, 10, 0, tzinfo=timezone.utc))
    set_faults(base, faults=[{"kind": "receiver_down", "operations": ["receive*", "push*"],
                              "start": "2026-02-01T10:00:00Z", "end": "2026-02-01T10:05:00Z"}])
    contact = session.get(f"{base}/v1/contacts", params={"per_page": 1}, timeout=5).json()["data"][0]["id"]
    push = lambda: session.post(f"{base}/v1/contacts/{contact}/propensity",  # noqa: E731
                                json={"propensity_score": 50, "propensity_category": "cool"}, timeout=5)
    down = push()
    assert down.status_code == 503 and down.headers["Retry-After"] == "300"
    webhook = requests.post(f"{base}/v1/webhooks/broadcast/events", json={}, timeout=5)
    assert webhook.status_code == 503
    assert session.get(f"{base}/v1/contacts", timeout=5).status_code == 200, "reads keep working"
    admin.advance(300)
    assert push().status_code == 200
    inbound = admin.inbound()["entries"]
    assert [e["status"] for e in inbound] == [503, 503, 200]


@pytest.mark.parametrize("profile", ["flaky", "storm-429", "resets", "slow", "receiver-down", "none"])
def test_builtin_profiles_load(served, profile):
    base, _, _ = served
    described = set_faults(base, profile=profile)
    assert described["profile"] == profile
    assert profile in described["profiles"]


def test_profiles_are_reproducible_with_the_same_seed(live_mock):
    outcomes = []
    for _ in range(2):
        base, app = live_mock(small_config(faults="flaky", seed=11))
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token_for(app)}"
        outcomes.append([session.get(f"{base}/v1/contacts", params={"per_page": 1}, timeout=5).status_code
                         for _ in range(40)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) - {200}, "the flaky profile does fail sometimes"


def test_bad_fault_specs_are_named(served):
    base, _, _ = served
    admin = AdminClient(base)
    with pytest.raises(AdminError) as meteor:
        admin.set_faults([{"kind": "meteor", "probability": 2}])
    assert meteor.value.status == 422
    assert {e["field"] for e in meteor.value.body["errors"]} == {"faults[0].kind", "faults[0].probability"}
    with pytest.raises(AdminError) as gremlins:
        admin.set_faults(profile="gremlins")
    assert gremlins.value.status == 422


def _outcome(session, url):
    try:
        answer = session.get(url, timeout=5)
        answer.json()
        return answer.status_code
    except requests.exceptions.ChunkedEncodingError:
        return "truncated"
    except requests.ConnectionError:
        return "reset"


@pytest.mark.parametrize("profile,signature", [
    ("flaky", {500, 503}),
    ("storm-429", {429}),
    ("resets", {"reset", "truncated"}),
])
def test_each_named_profile_shows_its_faults_to_a_client(live_mock, profile, signature):
    base, app = live_mock(small_config(faults=profile))
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token_for(app)}"
    outcomes = {_outcome(session, f"{base}/v1/contacts?per_page=1") for _ in range(60)}
    assert signature <= outcomes and 200 in outcomes, outcomes


def test_the_slow_profile_waits_on_every_request(live_mock):
    sleeps = SleepRecorder()
    base, app = live_mock(small_config(faults="slow"), sleeper=sleeps)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token_for(app)}"
    for _ in range(10):
        assert session.get(f"{base}/v1/contacts", params={"per_page": 20}, timeout=5).status_code == 200
    latencies = [s for s in sleeps.calls if s >= 0.15]
    assert len(latencies) == 10 and all(0.15 <= s <= 0.5 for s in latencies)
    assert any(s == 0.02 for s in sleeps.calls), "some pages were dripped"


def test_the_receiver_down_profile_refuses_inbound_for_five_minutes(live_mock):
    base, app = live_mock(small_config(faults="receiver-down"))
    assert requests.post(f"{base}/v1/webhooks/broadcast/events", json={}, timeout=5).status_code == 503
    AdminClient(base).advance(301)
    assert requests.post(f"{base}/v1/webhooks/broadcast/events", json={}, timeout=5).status_code == 400
