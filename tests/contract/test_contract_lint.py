"""The contract is valid OpenAPI 3.1 and keeps the project's rules; the lint notices when it doesn't."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from openapi_spec_validator import validate

from contract import spec_path
from harness.contract import lint as L


def test_contract_is_valid_openapi_31(contract):
    assert contract["openapi"] == "3.1.0"
    validate(contract)


def test_contract_loads_in_openapi_core():
    from openapi_core import OpenAPI

    OpenAPI.from_file_path(str(spec_path()))


@pytest.mark.parametrize("rule", L.RULES, ids=lambda rule: rule.__name__)
def test_contract_passes_every_lint_rule(contract, rule):
    assert [str(f) for f in rule(contract)] == []


def test_every_example_in_the_contract_is_checked(contract):
    """Guards the walker itself: if it stopped finding examples, check_examples would pass vacuously."""
    wheres = [where for where, _, _ in L.iter_examples(contract)]
    assert any("/paths/~1webhooks~1broadcast~1batch/post/requestBody" in w for w in wheres)
    assert any(w.startswith("/components/responses/ValidationFailed") for w in wheres)
    assert any(w.startswith("/components/headers/RateLimit/schema/examples") for w in wheres)
    assert len(wheres) >= 30


def _get(contract, path, method):
    return contract["paths"][path][method]


def test_lint_reports_a_missing_operation_id(contract):
    del _get(contract, "/contacts", "get")["operationId"]
    assert any(f.rule == "operation-id" and f.where == "GET /contacts" for f in L.lint_spec(contract))


def test_lint_reports_a_link_to_an_unknown_operation(contract):
    links = _get(contract, "/contacts", "get")["responses"]["200"]["links"]
    links["GetFirstItem"]["operationId"] = "getContactt"
    assert any("getContactt" in f.message for f in L.check_operation_ids(contract))


def test_lint_reports_missing_429_and_5xx(contract):
    responses = _get(contract, "/offices/{id}", "get")["responses"]
    for status in ("429", "500", "502", "503"):
        del responses[status]
    messages = {f.message for f in L.check_error_responses(contract) if f.where == "GET /offices/{id}"}
    assert messages == {"no 429 response", "no 5xx or default response"}


def test_lint_reports_an_error_response_that_is_not_a_problem(contract):
    _get(contract, "/agents", "get")["responses"]["500"] = {
        "description": "oops", "content": {"text/plain": {"schema": {"type": "string"}}}}
    assert [f.message for f in L.check_error_responses(contract)] == ["500 is not an application/problem+json Problem"]


def test_lint_reports_a_missing_rate_limit_header(contract):
    del _get(contract, "/properties", "get")["responses"]["200"]["headers"]["RateLimit"]
    findings = L.check_rate_limit_headers(contract)
    assert [(f.where, f.message) for f in findings] == [("GET /properties", "200 response lacks the RateLimit header")]


def test_lint_reports_missing_security_and_scope_drift(contract):
    del _get(contract, "/connection", "get")["security"]
    _get(contract, "/contacts", "get")["x-required-scope"] = "read:agents"
    findings = {(f.where, f.message) for f in L.check_security(contract)}
    assert ("GET /connection", "no security requirement") in findings
    assert any(where == "GET /contacts" and "disagree" in message for where, message in findings)


def test_lint_reports_an_example_that_breaks_its_schema(contract):
    media = _get(contract, "/webhooks/broadcast/propensity", "post")["requestBody"]["content"]["application/json"]
    media["examples"]["spec73"]["value"]["data"]["propensity_score"] = 101
    findings = L.check_examples(contract)
    assert len(findings) == 1
    assert "/data/propensity_score" in findings[0].message and "101" in findings[0].message


def test_lint_reports_invalid_openapi_and_stops(contract):
    contract["paths"]["/contacts"]["get"]["responses"] = "none"
    findings = L.lint_spec(contract)
    assert findings and {f.rule for f in findings} == {"openapi"}


def test_lint_command_exits_0_on_the_contract():
    result = CliRunner().invoke(L.lint, [])
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output


def test_lint_command_exits_1_and_names_the_problem(contract, tmp_path: Path):
    del _get(contract, "/agents/{id}", "get")["operationId"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(L.lint, ["--spec", str(broken)])
    assert result.exit_code == 1
    assert "GET /agents/{id}: no operationId" in result.output


def test_lint_reports_an_open_request_body_and_a_closed_response(contract):
    del contract["components"]["schemas"]["EngagementEvent"]["additionalProperties"]
    contract["components"]["schemas"]["Office"]["additionalProperties"] = False
    findings = {(f.where, f.message) for f in L.check_body_strictness(contract)}
    assert ("POST /contacts/{id}/events", "request object #/components/schemas/EngagementEvent accepts unknown properties") in findings
    assert ("GET /offices/{id}", "response object #/components/schemas/Office forbids unknown properties") in findings


def test_lint_reports_a_link_parameter_the_target_does_not_take(contract):
    links = _get(contract, "/contacts", "get")["responses"]["200"]["links"]
    links["NextPage"]["parameters"] = {"page": "$response.body#/pagination/page"}
    messages = [f.message for f in L.check_operation_ids(contract)]
    assert messages == ["link 'NextPage' (200) sets 'page', which GET /contacts does not take"]
