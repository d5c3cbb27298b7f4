"""Bad input gets a precise problem+json and never changes anything."""
from __future__ import annotations

import json

import pytest
import requests

from .mock_helpers import small_config


def problem_of(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["status"] == status
    assert body["type"].endswith("#" + code)  # its row in the error catalogue
    return body


@pytest.mark.parametrize("query,field", [
    ({"per_page": 0}, "query.per_page"),
    ({"per_page": 501}, "query.per_page"),
    ({"per_page": "ten"}, "query.per_page"),
    ({"updated_since": "last tuesday"}, "query.updated_since"),
    ({"include_deleted": "maybe"}, "query.include_deleted"),
    ({"contact_type": "landlord"}, "query.contact_type"),
    ({"colour": "blue"}, "query.colour"),
])
def test_bad_query_parameters_are_named(api, query, field):
    body = problem_of(api.get("/v1/contacts", query_string=query), 400, "invalid_request")
    assert field in [e["field"] for e in body["errors"]]


def test_a_well_formed_cursor_not_issued_by_the_server_names_no_page(api):
    body = problem_of(api.get("/v1/contacts", query_string={"cursor": "bm90LWEtY3Vyc29y"}), 404, "invalid_cursor")
    assert body["errors"][0]["field"] == "query.cursor"


@pytest.mark.parametrize("cursor", ["0", "not a cursor!", "x" * 600])
def test_a_cursor_breaking_the_grammar_is_a_malformed_request(api, cursor):
    response = api.get("/v1/contacts", query_string={"cursor": cursor})
    assert response.status_code == 400 and response.content_type == "application/problem+json"
    assert "query.cursor" in [e["field"] for e in response.get_json()["errors"]]


def test_a_cursor_reused_with_other_filters_is_refused(api):
    cursor = api.get("/v1/contacts", query_string={"per_page": 2}).get_json()["pagination"]["next_cursor"]
    problem_of(api.get("/v1/contacts", query_string={"cursor": cursor, "contact_type": "buyer"}), 404, "invalid_cursor")
    problem_of(api.get("/v1/offices", query_string={"cursor": cursor}), 404, "invalid_cursor")
    assert api.get("/v1/contacts", query_string={"cursor": cursor, "per_page": 9}).status_code == 200


def test_malformed_json_wrong_types_unknown_fields_and_huge_bodies_change_nothing(api, client):
    before = client.get("/__admin/world").get_json()
    cases = [
        (dict(data="{not json", content_type="application/json"), 400, "invalid_request", "/"),
        (dict(data="url=http://x", content_type="application/x-www-form-urlencoded"), 415,
         "unsupported_media_type", "header.Content-Type"),
        (dict(json={"url": 42}), 422, "validation_failed", "/url"),
        (dict(json={"url": "http://127.0.0.1:9/x", "colour": "blue"}), 422, "validation_failed", "/colour"),
        (dict(json={"events": ["contact.*"]}), 422, "validation_failed", "/url"),
        (dict(json={"url": "http://127.0.0.1:9/x", "events": ["contact.exploded"]}), 422, "validation_failed",
         "/events/0"),
        (dict(data=json.dumps({"url": "http://127.0.0.1:9/" + "x" * 70_000}), content_type="application/json"),
         413, "payload_too_large", "/"),
    ]
    for kwargs, status, code, field in cases:
        body = problem_of(api.post("/v1/subscriptions", **kwargs), status, code)
        assert field in [e["field"] for e in body.get("errors", [])], (kwargs, body)
    after = client.get("/__admin/world").get_json()
    before.pop("now"), after.pop("now")
    assert after == before
    assert api.get("/v1/subscriptions").get_json()["data"] == []


def test_unknown_routes_and_methods_are_problems(api):
    problem_of(api.get("/v1/nothing-here"), 404, "not_found")
    answer = api.delete("/v1/contacts")
    problem_of(answer, 405, "method_not_allowed")
    assert "GET" in answer.headers["Allow"]


def test_the_journal_records_the_verdict(api, client):
    api.get("/v1/contacts", query_string={"per_page": 0})
    entry = client.get("/__admin/journal").get_json()["entries"][-1]
    assert entry["operation_id"] == "listContacts" and entry["status"] == 400
    assert entry["validation"]["request"] == "failed"
    assert entry["validation"]["errors"][0]["field"] == "query.per_page"


def test_a_chunked_body_over_the_limit_is_refused(live_mock):
    base, _ = live_mock(small_config())

    def chunks():
        yield b'{"url": "http://127.0.0.1:9/'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    answer = requests.post(f"{base}/v1/subscriptions", data=chunks(), headers={"Content-Type": "application/json"},
                           timeout=10)
    assert answer.status_code == 413 and answer.json()["code"] == "payload_too_large"


def test_each_missing_and_each_unexpected_property_is_named_once(api):
    contact = api.get("/v1/contacts", query_string={"per_page": 1}).get_json()["data"][0]
    answer = api.post(f"/v1/contacts/{contact['id']}/events",
                      json={"campaign_id": "bc_campaign_1", "colour": "blue", "shade": "dark"})
    body = problem_of(answer, 422, "validation_failed")
    fields = [e["field"] for e in body["errors"]]
    assert len(fields) == len(set(fields)), fields
    assert {"/event_id", "/event_type", "/timestamp", "/colour", "/shade"} <= set(fields)
    messages = {e["field"]: e["message"] for e in body["errors"]}
    assert messages["/event_id"] == "'event_id' is a required property"
    assert "'colour', 'shade' were unexpected" in messages["/colour"]
