"""How every answer of the fake is written: JSON bodies and RFC 9457 problem+json.

Clients branch on a problem's stable `code`, so it is always present; `errors` names the failing
fields when there are any, so a developer sees what to fix without reading server logs. The
framework's own errors (unknown route, wrong method, body too large, a crash) leave in the same
shape (`init_errors`). OAuth, the API, the inbound endpoints and the admin API all answer through
here, which is why this module sits at the package root rather than inside `api/`.

JSON is written compactly and without Flask's key sorting: pages of 500 records are serialised
often (records themselves are serialised once per version by `world.collection`).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterable, TypedDict

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("mock_agentbuddy")

# The code's row in the error catalogue of the published docs (the contract's `Errors` tag).
PROBLEM_TYPE_BASE = "https://agentbuddy.example/docs/errors.html#"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# The contract's stable code for each status the framework itself may raise.
FRAMEWORK_CODES = {400: "invalid_request", 401: "invalid_token", 403: "insufficient_scope", 404: "not_found",
                   405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
                   429: "rate_limited", 503: "service_unavailable"}


class FieldError(TypedDict):
    field: str
    message: str


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def raw_json_response(text: str) -> Response:
    """A body already serialised (pages assembled from per-record JSON)."""
    return Response(text, content_type="application/json")


def problem_body(status: int, code: str, title: str, detail: str,
                 errors: Iterable[FieldError] | None = None) -> dict:
    body: dict = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status, "detail": detail, "code": code}
    if errors:
        body["errors"] = [{"field": str(e["field"]), "message": str(e["message"])} for e in errors]
    return body


def problem(status: int, code: str, title: str, detail: str,
            errors: Iterable[FieldError] | None = None) -> Response:
    body = problem_body(status, code, title, detail, errors)
    return Response(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)


def not_found(kind: str, record_id: str) -> Response:
    return problem(404, "not_found", "Not found", f"No {kind} with id '{record_id}' in this account.")


# -- the framework's errors ------------------------------------------------------------------

def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = FRAMEWORK_CODES.get(status, "internal_error" if status >= 500 else "invalid_request")
    detail = error.description or error.name
    if status == 404:
        detail = f"No route {request.method} {request.path}."
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.path}."
    response = problem(status, code, error.name, detail)
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def crash(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "internal_error", "Internal server error",
                   f"The fake crashed handling this request ({type(error).__name__}); see its log.")


def init_errors(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, crash)
