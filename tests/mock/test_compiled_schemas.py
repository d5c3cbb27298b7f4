"""The fake's fast contract checks refuse exactly what openapi-core's Python validator refuses.

Bodies are first judged by a compiled validator (`jsonschema_rs`) and only handed to the Python
validator when the compiled one finds a problem. If the compiled validator ever accepted a value
the Python one refuses, the fake would quietly let contract violations through — so these tests
mutate contract examples and real pages and check that it never does, and that large batches
and pages still name the exact failing field.
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from mock_agentbuddy import create_app, state_of, stop_background
from mock_agentbuddy.api.contract import ContractValidator
from .mock_helpers import Api, first_active_agent, json_request_bodies, obtain_token, small_config

TRICKY = [
    None, True, False, 0, -1, 101, 1.5, 2 ** 70, -(2 ** 70), "", "x", "ab_contact_1\n", "ab contact",
    "2026-02-30T00:00:00Z", "2026-01-15T14:30:00", "2026-01-15T14:30:00+25:00", "1969-12-31T23:59:59Z",
    "2026-01-15", "not an email", "a@", "https://acme.example/a b", "ftp://acme.example/x", "http://", "ünïcödé",
    "x" * 260, [], ["x"], [1, 1], {}, {"k": 1}, {"url": "https://acme.example/x"}, "opened", "email.opened", "hot",
]


def _body_schemas(openapi) -> list[tuple[object, list]]:
    """(request body schema location, the contract's examples for it) per operation."""
    found = []
    for template, method, media in json_request_bodies():
        examples = [e["value"] for e in (media.get("examples") or {}).values() if "value" in e]
        location = (openapi.spec / "paths" / template / method / "requestBody" / "content"
                    / "application/json" / "schema")
        found.append((location, examples))
    return found


@pytest.fixture(scope="module")
def contract_validator() -> ContractValidator:
    return ContractValidator()


@pytest.fixture(scope="module")
def cases(contract_validator) -> list[tuple[object, object]]:
    """(cached schema validator, a conforming value): every body example, and a real page."""
    openapi = contract_validator.openapi
    factory = openapi.config.schema_validators_factory
    out = [(factory.create(openapi.spec, location), example)
           for location, examples in _body_schemas(openapi) for example in examples]
    app = create_app(small_config())
    try:
        client = app.test_client()
        world = client.get("/__admin/world").get_json()
        api = Api(client, obtain_token(client, first_active_agent(world)["email"], "read:contacts")["access_token"])
        page = api.get("/v1/contacts", query_string={"per_page": 8}).get_json()
    finally:
        stop_background(app)
    page_schema = (openapi.spec / "paths" / "/contacts" / "get" / "responses" / "200" / "content"
                   / "application/json" / "schema")
    out.append((factory.create(openapi.spec, page_schema), page))
    return out


def _python_errors(validator, value) -> list:
    return list(validator.validator.iter_errors(value))


def _locations(value, here=()):
    yield here
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _locations(child, here + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _locations(child, here + (index,))


def _mutate(value, draw):
    """Replace, delete or add one member somewhere in a copy of `value`."""
    value = copy.deepcopy(value)
    locations = list(_locations(value))
    where = draw(st.sampled_from(locations))
    if not where:
        return draw(st.sampled_from(TRICKY))
    parent = value
    for step in where[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if action == "replace":
        parent[where[-1]] = copy.deepcopy(draw(st.sampled_from(TRICKY)))
    elif action == "delete":
        del parent[where[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["mood", "x-extra", "event_id", "url", "_"]))] = draw(st.sampled_from(TRICKY))
    else:
        parent.append(copy.deepcopy(draw(st.sampled_from(TRICKY))))
    return value


def test_every_body_has_a_compiled_gate_and_the_examples_pass_both(cases):
    assert len(cases) >= 11
    for validator, value in cases:
        assert validator.gate is not None, validator.schema.parts
        assert validator.gate.is_valid(value), validator.schema.parts
        assert _python_errors(validator, value) == [], validator.schema.parts


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_the_compiled_gate_never_accepts_what_python_refuses(cases, data):
    validator, value = data.draw(st.sampled_from(cases))
    mutated = value
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = _mutate(mutated, data.draw)
    try:
        gate_accepts = validator.gate.is_valid(mutated)
    except Exception:  # noqa: BLE001 - the gate declines; Python decides (GatedSchemaValidator does the same)
        gate_accepts = False
    if gate_accepts:
        assert _python_errors(validator, mutated) == [], f"gate accepted a value Python refuses: {mutated!r}"


# -- end to end: big inputs still fail precisely --------------------------------------------------

@pytest.fixture
def signed_batch(client, world):
    connection = next(c for c in world["connections"]
                      if c["account_id"] == world["accounts"][0]["id"] and c["client_id"] == "broadcast-local")
    client.post("/__admin/clock", json={"freeze": True, "set": "2026-01-15T14:40:00Z"})
    when = datetime(2026, 1, 15, 14, 40, tzinfo=timezone.utc)

    def send(updates: list[dict], msg_id: str):
        raw = json.dumps({"event_type": "engagement.batch_update", "timestamp": "2026-01-15T14:35:00Z",
                          "data": {"updates": updates}})
        signature = Webhook(connection["webhook_secret"]).sign(msg_id, when, raw)
        return client.post("/v1/webhooks/broadcast/batch", data=raw, content_type="application/json",
                           headers={"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                                    "webhook-signature": signature})

    return send


def _updates(contact_ids: list[str], count: int) -> list[dict]:
    return [{"contact_id": contact_ids[i % len(contact_ids)], "propensity_score": 61, "propensity_category": "warm",
             "engagement_metrics": {"total_opens": i, "last_opened_at": "2026-01-15T14:30:00Z"},
             "events": [{"event_id": f"bc_evt_{i}", "event_type": "opened", "campaign_id": "bc_campaign_9",
                         "timestamp": "2026-01-15T14:30:00Z",
                         "metadata": {"url": "https://acme.example/listings/1", "link_category": "listing"}}]}
            for i in range(count)]


def test_one_bad_event_deep_in_a_500_update_batch_is_named_and_nothing_is_applied(api, client, signed_batch):
    contact_ids = [c["id"] for c in api.get("/v1/contacts", query_string={"per_page": 500}).get_json()["data"]]
    updates = _updates(contact_ids, 500)
    updates[417]["events"][0]["event_type"] = "read"
    updates[417]["events"][0]["timestamp"] = "2026-02-30T10:00:00Z"  # no such day: a format violation
    updates[88]["events"][0]["metadata"]["url"] = "not a url"

    answer = signed_batch(updates, "msg_bad")

    assert answer.status_code == 422, answer.get_json()
    assert {e["field"] for e in answer.get_json()["errors"]} == {
        "/data/updates/417/events/0/event_type", "/data/updates/417/events/0/timestamp",
        "/data/updates/88/events/0/metadata/url"}
    state = state_of(client.application)
    assert not any(e["event_id"].startswith("bc_evt_") for events in state.received.events.values() for e in events)

    updates = _updates(contact_ids, 500)
    answer = signed_batch(updates, "msg_good")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["applied"] == 500


def test_strict_mode_finds_one_broken_record_in_a_full_page(api, client):
    page = api.get("/v1/contacts", query_string={"per_page": 500}).get_json()["data"]
    assert len(page) > 40
    broken = page[37]["id"]
    contacts = state_of(client.application).world.collection("ab_account_001", "contacts")
    contacts.get(broken)["email"] = "not an email"  # a bug in the fake, say
    contacts.forget_json(broken)

    answer = api.get("/v1/contacts", query_string={"per_page": 500})

    assert answer.status_code == 500
    assert [e["field"] for e in answer.get_json()["errors"]] == ["response/data/37/email"]
