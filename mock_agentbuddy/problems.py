"""RFC 9457 problem responses: the single shape every error of the fake takes.

Clients branch on the stable `code`, so it is always present; `errors` names the failing
fields when there are any, so a developer sees what to fix without reading server logs.
"""
from __future__ import annotations

import json
from typing import Iterable, TypedDict

from flask import Response

# The code's row in the error catalogue of the published docs (the contract's `Errors` tag).
PROBLEM_TYPE_BASE = "https://agentbuddy.example/docs/errors.html#"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class FieldError(TypedDict):
    field: str
    message: str


def problem_body(status: int, code: str, title: str, detail: str,
                 errors: Iterable[FieldError] | None = None) -> dict:
    body: dict = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = [{"field": str(e["field"]), "message": str(e["message"])} for e in errors]
    return body


def problem(status: int, code: str, title: str, detail: str,
            errors: Iterable[FieldError] | None = None) -> Response:
    body = problem_body(status, code, title, detail, errors)
    return Response(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
