"""The fake's compiled request gate never lets through what openapi-core would refuse.

A conforming request is accepted by a gate compiled once per contract operation (parameters
resolved at load, schemas compiled); anything else goes to openapi-core, whose errors the client
sees. If the gate accepted a request openapi-core refuses, the fake would quietly stop enforcing
the contract — so these tests put tricky parameters, headers, paths and bodies to both and
check the gate is never the more lenient, and that ordinary requests do take the fast path.
"""
from __future__ import annotations

import copy
import json

import pytest
from flask import request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.validation.request.exceptions import SecurityValidationError

import contract
from mock_agentbuddy import create_app, stop_background
from mock_agentbuddy.api import validation
from mock_agentbuddy.api.contract import _PathRequest
from .mock_helpers import json_request_bodies, small_config

TEXT = ["1", "100", "500", "0", "501", "-1", "007", "+5", " 5", "1.5", "1e2", "abc", "", "true", "false", "True",
        "1", "2026-01-15T14:30:00Z", "2026-01-15T14:30:00.123+02:00", "2026-02-30T00:00:00Z", "2026-01-15",
        "buyer", "seller", "lead", "nobody", "ab_contact_000001", "ab_office_0001", "x" * 16, "x" * 600,
        "eyJ1IjoxLCJpIjoiYSJ9abcdefgh", "a/b", "ünïcödé", "%20", "99999999999999999999999"]
QUERY_NAMES = ["per_page", "cursor", "updated_since", "include_deleted", "office_id", "agent_id", "contact_type"]
LISTS = ["/v1/contacts", "/v1/offices", "/v1/agents", "/v1/properties"]


@pytest.fixture(scope="module")
def app():
    built = create_app(small_config())
    yield built
    stop_background(built)


def _verdicts(app, method: str, path: str, **kwargs) -> tuple[bool, bool]:
    """(the gate accepts, openapi-core finds nothing wrong) for one request."""
    with app.test_request_context(path, method=method, **kwargs):
        failure = validation.identify_and_precheck()
        checker = validation.validator()
        rule = request.url_rule.rule if request.url_rule else None
        operation = checker.operation_for(method, rule)
        if failure is not None or operation is None:
            return False, False
        accepted = checker.gate.accepts(request, operation.path)
        errors = [e for e in checker.openapi.iter_request_errors(_PathRequest(request))
                  if not isinstance(e, SecurityValidationError)]
        if any(isinstance(e, PathError) for e in errors):
            errors = []
        return accepted, not errors


def test_ordinary_requests_take_the_fast_path(app):
    for path in ["/v1/contacts?per_page=100", "/v1/contacts?per_page=500&include_deleted=true",
                 "/v1/contacts?updated_since=2026-01-15T14:30:00Z&contact_type=buyer", "/v1/offices",
                 "/v1/contacts/ab_contact_000001", "/v1/connection"]:
        accepted, conforms = _verdicts(app, "GET", path)
        assert conforms, path
        assert accepted, path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(LISTS),
       query=st.lists(st.tuples(st.sampled_from(QUERY_NAMES), st.sampled_from(TEXT)), max_size=4))
def test_the_gate_never_accepts_a_query_openapi_core_refuses(app, path, query):
    accepted, conforms = _verdicts(app, "GET", path, query_string=query)
    assert conforms or not accepted, (path, query)


@pytest.mark.parametrize("record_id", ["ab_contact_000001", "x", "a b", "x" * 300, "ünïcödé", "-", "%41"])
def test_the_gate_never_accepts_a_path_openapi_core_refuses(app, record_id):
    for template in ("/v1/contacts/{}", "/v1/offices/{}", "/v1/subscriptions/{}"):
        method = "DELETE" if "subscriptions" in template else "GET"
        accepted, conforms = _verdicts(app, method, template.format(record_id))
        assert conforms or not accepted, (template, record_id)


def _body_examples() -> list[tuple[str, str, object]]:
    """(method, concrete path, example body) for every request body example of the contract."""
    found = []
    for template, method, media in json_request_bodies():
        for example in (media.get("examples") or {}).values():
            if "value" in example:
                found.append((method.upper(), "/v1" + template.replace("{id}", "ab_contact_000001")
                              .replace("{contact_id}", "ab_contact_000001"), example["value"]))
    return found


def _mutations(body):
    """The body with one value at a time replaced by something tricky, and one property dropped."""
    tricky = [None, True, 0, -1, 1.5, "", "x", "x" * 300, [], {}, "2026-02-30T00:00:00Z", "not an email"]
    if isinstance(body, dict):
        for key in list(body)[:6]:
            dropped = dict(body)
            dropped.pop(key)
            yield dropped
            for value in tricky:
                yield {**body, key: value}
            for nested in _mutations(body[key]):
                yield {**body, key: nested}
    elif isinstance(body, list) and body:
        for nested in _mutations(body[0]):
            yield [nested] + copy.deepcopy(body[1:])


HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1768487400", "webhook-signature": "v1,c2lnbmF0dXJl"}


def test_the_gate_never_accepts_a_body_openapi_core_refuses(app):
    examples = _body_examples()
    assert examples, "the contract has request body examples"
    fast = 0
    for method, path, body in examples:
        headers = {"Content-Type": "application/json", **HEADERS}
        accepted, conforms = _verdicts(app, method, path, data=json.dumps(body), headers=headers)
        assert conforms or not accepted, (path, body)
        fast += accepted
        for mutated in _mutations(body):
            accepted, conforms = _verdicts(app, method, path, data=json.dumps(mutated), headers=headers)
            assert conforms or not accepted, (path, mutated)
    assert fast, "conforming example bodies take the fast path"


@pytest.mark.parametrize("headers", [
    {}, {"webhook-id": None}, {"webhook-signature": None}, {"webhook-id": ""}, {"webhook-timestamp": "soon"}, {"webhook-timestamp": "-1"},
    {"webhook-timestamp": "999999999999"}, {"webhook-signature": "v2,abc"}, {"webhook-id": "a b"},
    {"Content-Type": "application/json; charset=utf-8"}, {"Content-Type": "text/plain"},
])
def test_the_gate_never_accepts_headers_openapi_core_refuses(app, headers):
    sent = {"Content-Type": "application/json", **HEADERS, **headers}
    sent = {k: v for k, v in sent.items() if not (k in headers and headers[k] is None)}
    body = next(b for m, p, b in _body_examples() if p.endswith("/webhooks/broadcast/events"))
    accepted, conforms = _verdicts(app, "POST", "/v1/webhooks/broadcast/events", data=json.dumps(body), headers=sent)
    assert conforms or not accepted, headers
    if headers == {}:
        assert accepted
