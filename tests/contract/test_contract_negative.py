"""The contract rejects what the fake must reject, and tolerates what clients must tolerate.

Request bodies are strict (an unknown field is a 422), scores and rates are bounded, enums are
closed; responses stay open to fields added later.
"""
from __future__ import annotations

import copy
import json

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest

pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")

from contract import spec_path
from harness.contract.lint import schema_pointer, validator_for

BASE = "http://127.0.0.1:8800"
HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1768487400", "webhook-signature": "v1,c2lnbmF0dXJl"}
PROPENSITY = {"event_type": "propensity.updated", "timestamp": "2026-01-15T14:35:00Z",
              "data": {"contact_id": "ab_contact_123", "propensity_score": 87, "propensity_category": "hot"}}
EMAIL_EVENT = {"event_type": "email.opened", "timestamp": "2026-01-15T14:30:00Z",
               "data": {"contact_id": "ab_contact_123", "campaign_id": "bc_campaign_456"}}
PUSH_EVENT = {"event_id": "bc_evt_1", "event_type": "opened", "campaign_id": "bc_campaign_456",
              "timestamp": "2026-01-15T14:30:00Z"}


def errors_of(contract, schema: str, value) -> list[str]:
    return [e.message for e in validator_for(contract, schema_pointer(contract, schema)).iter_errors(value)]


def changed(value: dict, path: str, new) -> dict:
    out = copy.deepcopy(value)
    node = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = new
    return out


@pytest.mark.parametrize("schema,value", [
    ("PropensityWebhook", PROPENSITY), ("EmailEventWebhook", EMAIL_EVENT), ("EngagementEvent", PUSH_EVENT),
])
def test_baselines_are_valid(contract, schema, value):
    assert errors_of(contract, schema, value) == []


@pytest.mark.parametrize("schema,value,path", [
    ("PropensityWebhook", PROPENSITY, "surprise"),
    ("PropensityWebhook", PROPENSITY, "data.surprise"),
    ("EmailEventWebhook", EMAIL_EVENT, "data.contact_email"),
    ("EngagementEvent", PUSH_EVENT, "contact_id"),
])
def test_unknown_field_in_a_request_body_is_rejected(contract, schema, value, path):
    messages = errors_of(contract, schema, changed(value, path, "x"))
    assert any("Additional properties are not allowed" in m for m in messages)


@pytest.mark.parametrize("score", [101, -1, 87.5, "87"])
def test_out_of_range_propensity_score_is_rejected(contract, score):
    assert errors_of(contract, "PropensityWebhook", changed(PROPENSITY, "data.propensity_score", score))
    assert errors_of(contract, "PropensityInput", {"propensity_score": score, "propensity_category": "hot"})


@pytest.mark.parametrize("schema,value,path,bad", [
    ("EmailEventWebhook", EMAIL_EVENT, "event_type", "email.read"),
    ("EmailEventWebhook", EMAIL_EVENT, "event_type", "opened"),  # bare names belong to the push API
    ("EngagementEvent", PUSH_EVENT, "event_type", "email.opened"),  # and dotted names to webhooks
    ("PropensityWebhook", PROPENSITY, "data.propensity_category", "scorching"),
    ("PropensityWebhook", PROPENSITY, "event_type", "propensity.changed"),
])
def test_value_outside_an_enum_is_rejected(contract, schema, value, path, bad):
    assert any("is not one of" in m for m in errors_of(contract, schema, changed(value, path, bad)))


@pytest.mark.parametrize("metrics", [{"open_rate": 100.5}, {"click_rate": -0.1}, {"total_opens": -1},
                                     {"engagement_trend": "flat"}, {}])
def test_bad_engagement_metrics_are_rejected(contract, metrics):
    assert errors_of(contract, "EngagementMetricsPatch", metrics)


def test_a_batch_is_bounded(contract):
    update = {"contact_id": "ab_contact_1", "propensity_score": 50}
    assert errors_of(contract, "BatchData", {"updates": [update] * 1000}) == []
    assert errors_of(contract, "BatchData", {"updates": [update] * 1001})
    assert errors_of(contract, "BatchData", {"updates": []})


def test_responses_tolerate_fields_added_later(contract):
    contact = {"id": "ab_contact_1", "email": "a@example.com", "first_name": "A", "last_name": "B",
               "email_opt_in": True, "updated_at": "2026-01-10T14:22:00Z", "loyalty_tier": "gold"}
    assert errors_of(contract, "Contact", contact) == []


def test_notes_are_marked_private(contract):
    assert contract["components"]["schemas"]["Contact"]["properties"]["notes"]["x-private"] is True


@pytest.fixture(scope="module")
def core() -> OpenAPI:
    return OpenAPI.from_file_path(
        str(spec_path()), config=Config(extra_media_type_deserializers={"application/problem+json": json.loads}))


def _post(path, body, headers=HEADERS):
    return MockRequest(BASE, "post", path, headers=headers, data=json.dumps(body).encode(), content_type="application/json")


def test_openapi_core_rejects_unknown_fields_and_accepts_the_baseline(core):
    assert core.unmarshal_request(_post("/v1/webhooks/broadcast/propensity", PROPENSITY)).errors == []
    bad = changed(PROPENSITY, "data.notes", "private")
    assert core.unmarshal_request(_post("/v1/webhooks/broadcast/propensity", bad)).errors


def test_openapi_core_requires_the_webhook_headers(core):
    headers = {k: v for k, v in HEADERS.items() if k != "webhook-timestamp"}
    assert core.unmarshal_request(_post("/v1/webhooks/broadcast/events", EMAIL_EVENT, headers)).errors


@pytest.mark.parametrize("query,ok", [({"per_page": "500"}, True), ({"per_page": "501"}, False),
                                      ({"per_page": "0"}, False), ({"contact_type": "tenant"}, False),
                                      ({"updated_since": "yesterday"}, False),
                                      ({"updated_since": "2026-01-01T00:00:00Z", "include_deleted": "true"}, True)])
def test_openapi_core_checks_list_queries(core, query, ok):
    errors = core.unmarshal_request(MockRequest(BASE, "get", "/v1/contacts", args=query)).errors
    assert (errors == []) is ok, errors


@pytest.mark.parametrize("contact_id,ok", [("ab_contact_1", True), ("ab contact", False), ("x" * 65, False),
                                           ("ab_contact_1;drop", False)])
def test_openapi_core_checks_path_ids(core, contact_id, ok):
    request = _post(f"/v1/contacts/{contact_id}/events", PUSH_EVENT, headers={})
    errors = core.unmarshal_request(request).errors
    assert (errors == []) is ok, errors
