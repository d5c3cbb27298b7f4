"""What every request of Broadcast's app can reach: its config, database, clock and the delivery
doorbell (`runtime()`), and the one way an HTTP error is answered (`problem`: RFC 9457
problem+json with a stable `code`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify, request

from common.clock import Clock
from integration.config import IntegrationConfig
from integration.outbox import Doorbell
from integration.storage import Database

TITLES = {
    400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
    413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error",
    503: "Service Unavailable",
}
CODES = {
    400: "invalid_request", 401: "invalid_signature", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 415: "unsupported_media_type", 500: "internal_error", 503: "service_unavailable",
}


@dataclass
class Runtime:
    config: IntegrationConfig
    db: Database
    clock: Clock
    doorbell: Doorbell


def runtime() -> Runtime:
    return current_app.extensions["integration"]


def problem(status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": f"https://broadcast.example/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.path,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
