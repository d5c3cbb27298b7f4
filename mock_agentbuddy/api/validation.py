"""Every /v1 request checked against `openapi/agentbuddy.yaml`; with `strict`, every response too.

The fake is the contract's first enforcer: a request the contract forbids gets a precise
problem+json naming the failing field(s), and, in strict mode, a response the contract does
not allow becomes a loud 500 instead of silently teaching clients a wrong shape.

Order of checks: body size (413), content type (415) and JSON syntax (400) before anything
else, in `before_request` (`identify_and_precheck`, which also names the operation for the hooks
after it); parameters and body schema inside the view, after authentication (401/403 first),
through `validated` / `check_request`. What the contract says is `contract.ContractValidator`'s
business; this module decides when it is asked and how its verdict is answered.
"""
from __future__ import annotations

import functools
import json
import logging

from flask import Flask, current_app, g, request

from ..responses import problem
from ..state import current_state
from .contract import ContractValidator

log = logging.getLogger("mock_agentbuddy.validation")

VALIDATOR = "contract_validator"  # app.extensions key
BATCH_OPERATIONS = frozenset({"pushEngagementBulk", "receiveEngagementBatchWebhook", "receiveConnectionEngagementBatchWebhook"})


def validator() -> ContractValidator:
    return current_app.extensions[VALIDATOR]


def request_json():
    """The view's copy of the JSON body: a 1,000-update batch is parsed once, not three times."""
    parsed = g.get("json_body")
    if parsed is not None and parsed[0] is request.get_data(cache=True):
        return parsed[1]
    return request.get_json()


def validated(view):
    """Run the contract's parameter and body checks; unknown query parameters are refused."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        failure = check_request()
        return failure if failure is not None else view(*args, **kwargs)

    return checked


def check_request():
    """None when the request conforms (or is no contract operation), else its problem response."""
    contract_validator = validator()
    operation = contract_validator.operation_for(request.method, request.url_rule.rule if request.url_rule else None)
    if operation is None:
        g.verdict = {"request": "not_in_contract"}
        return None
    unknown = sorted(name for name in request.args if name not in operation.query_params)
    status, errors = contract_validator.request_errors(request)
    if unknown:
        allowed = ", ".join(sorted(operation.query_params)) or "none"
        errors = [{"field": f"query.{name}", "message": f"unknown query parameter; allowed: {allowed}"}
                  for name in unknown] + errors
        status = 400
    if not errors:
        g.verdict = {"request": "ok"}
        return None
    g.verdict = {"request": "failed", "errors": errors}
    if status == 422:
        return problem(422, "validation_failed", "Request body does not match the contract",
                       f"{len(errors)} field(s) failed validation: "
                       + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), errors)
    return problem(400, "invalid_request", "Invalid request",
                   "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors[:5]), errors)


def body_limit(config, operation_id: str | None) -> int:
    """The contract's limits: 64 KiB for single-contact operations, 5 MiB for batches."""
    return config.max_batch_body_bytes if operation_id in BATCH_OPERATIONS else config.max_body_bytes


# -- hooks -------------------------------------------------------------------------------------

def identify_and_precheck():
    """before_request: name the operation (and missing required headers) for every later hook,
    then refuse a /v1 body that is too large, not JSON, or not parseable."""
    rule = request.url_rule.rule if request.url_rule else None
    operation = validator().operation_for(request.method, rule)
    g.operation_id = operation.operation_id if operation else None
    g.missing_headers = operation.missing_headers(request.headers) if operation else []
    if not request.path.startswith("/v1/"):
        return None
    failure = _body_precheck(body_limit(current_state().config, g.operation_id))
    if failure is not None:
        g.verdict = {"request": "failed", "errors": json.loads(failure.get_data()).get("errors", [])}
    return failure


def check_response(response):
    """after_request (strict mode): a response the contract does not allow becomes a 500."""
    if not request.path.startswith("/v1/") or g.get("operation_id") is None or g.get("fault"):
        return response
    errors = validator().response_errors(request, response)
    verdict = g.get("verdict") or {"request": "not_validated"}
    if not errors:
        g.verdict = {**verdict, "response": "ok"}
        return response
    g.verdict = {**verdict, "response": "failed", "response_errors": errors}
    log.error("STRICT: %s %s -> %s violates the contract: %s", request.method, request.path,
              response.status_code, errors)
    return problem(500, "internal_error", "Response violates the contract",
                   f"The fake produced a {response.status_code} response for {g.operation_id} "
                   "that the contract does not allow (strict mode).", errors)


def _body_precheck(max_bytes: int):
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    length = request.content_length
    if length is not None and length > max_bytes:
        return _too_large(max_bytes)
    data = request.get_data(cache=True)  # MAX_CONTENT_LENGTH also guards chunked bodies
    if not data:
        return None
    if len(data) > max_bytes:  # sent without a Content-Length (chunked)
        return _too_large(max_bytes)
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        return problem(415, "unsupported_media_type", "Unsupported media type",
                       f"Send the body as application/json (got '{request.content_type or 'nothing'}').",
                       [{"field": "header.Content-Type", "message": "must be application/json"}])
    try:
        g.json_body = (data, json.loads(data))
    except (ValueError, UnicodeDecodeError) as error:
        return problem(400, "invalid_request", "Malformed JSON", f"The body is not valid JSON: {error}.",
                       [{"field": "/", "message": f"malformed JSON: {error}"}])
    return None


def _too_large(max_bytes: int):
    return problem(413, "payload_too_large", "Payload too large",
                   f"Request bodies are limited to {max_bytes} bytes.",
                   [{"field": "/", "message": f"larger than {max_bytes} bytes"}])


def init_validation(app: Flask, config) -> None:
    app.extensions.setdefault(VALIDATOR, ContractValidator())
    app.config["MAX_CONTENT_LENGTH"] = max(config.max_body_bytes, config.max_batch_body_bytes)
    app.before_request(identify_and_precheck)


def init_strict_responses(app: Flask, config) -> None:
    """Registered before the hooks that add headers, so it runs after them (Flask runs
    after_request functions in reverse order) and sees the response as the client will."""
    app.extensions.setdefault(VALIDATOR, ContractValidator())
    if config.strict:
        app.after_request(check_response)
