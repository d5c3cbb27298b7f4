"""Broadcast's HTTP face for the integration: provider webhooks in, AgentBuddy notifications in.

`create_app(config, db=None, clock=None)` builds an isolated app (no module-level state); the
database, clock and delivery doorbell travel in `app.extensions["integration"]` so other
blueprints (the UI) can reach them. Every error is RFC 9457 problem+json with a stable `code`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from integration import ingest, ui
from common.clock import Clock, SystemClock
from integration.config import IntegrationConfig
from integration.storage import Database
from integration.outbox import Doorbell

MAX_BODY_BYTES = 1024 * 1024  # a Resend event is a few KiB; anything near this is not one

_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
    413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error",
    503: "Service Unavailable",
}
_CODES = {
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
        "title": _TITLES.get(status, "Error"),
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


def _from_result(result: ingest.IngestResult) -> Response:
    if result.problem is not None:
        field = result.problem.field
        errors = [{"field": field, "message": result.problem.message}] if field else None
        return problem(result.problem.status, result.problem.code, result.problem.message, errors)
    return jsonify(result.receipt())


providers = Blueprint("providers", __name__)


@providers.post("/providers/resend/webhook")
def resend_webhook() -> Response:
    rt = runtime()
    secret = rt.config.resend_webhook_secret
    if not secret:
        return problem(503, "service_unavailable", "RESEND_WEBHOOK_SECRET is not configured on this Broadcast")
    result = ingest.ingest_provider_webhook(
        rt.db, None, dict(request.headers), request.get_data(cache=False), rt.clock,
        secret=secret, default_organization_id=rt.config.default_organization_id, doorbell=rt.doorbell,
    )
    return _from_result(result)


notifications = Blueprint("notifications", __name__)


@notifications.post("/agentbuddy/notifications")
def agentbuddy_notification() -> Response:
    from integration.sync.notifications import handle_change_notification

    rt = runtime()
    result = handle_change_notification(rt.db, rt.config, dict(request.headers), request.get_data(cache=False),
                                        clock=rt.clock)
    if result.status >= 400:
        return problem(result.status, result.code, result.detail)
    response = jsonify(result.to_json())
    response.status_code = result.status
    return response


health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    rt = runtime()
    with rt.db.transaction(readonly=True) as tx:
        tx.fetchval("SELECT 1 AS ok")
    return jsonify({"status": "ok", "database": rt.db.dialect})


def create_app(
    config: IntegrationConfig, db: Database | None = None, clock: Clock | None = None,
    doorbell: Doorbell | None = None,
) -> Flask:
    """An app over `db` (opened from `config.database_url` and migrated when not given)."""
    if db is None:
        db = Database.from_url(config.database_url)
        db.migrate()
    app = Flask("integration")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["integration"] = Runtime(config, db, clock or SystemClock(), doorbell or Doorbell())
    for blueprint in (providers, notifications, health, ui.bp):
        app.register_blueprint(blueprint)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        return problem(status, _CODES.get(status, "invalid_request"), exc.description or _TITLES.get(status, "Error"))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return problem(500, "internal_error", "an unexpected error occurred; it has been logged")

    return app
