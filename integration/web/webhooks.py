"""Webhooks into Broadcast: the email provider's events (Resend) and AgentBuddy's change
notifications. Both are verified by signature, not by session, so they are exempt from the
pages' CSRF protection; both answer problem+json when they refuse."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from integration.engagement.pipeline import ingest
from integration.sync.notifications import handle_change_notification

from .runtime import problem, runtime


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


# The URL without an organization, from before contract 1.2.0 (DECISIONS item 33): still served for
# subscriptions registered then, by trying every connection's secret; deprecated, sunset six months on.
DEPRECATION = {"Deprecation": "@1796256000", "Sunset": "Thu, 03 Jun 2027 00:00:00 GMT"}


@notifications.post("/agentbuddy/notifications/<organization_id>")
def agentbuddy_notification_for(organization_id: str) -> Response:
    """Where `subscriptions.subscribe` points AgentBuddy: the URL names whose secret to check."""
    return _notification(organization_id)


@notifications.post("/agentbuddy/notifications")
def agentbuddy_notification() -> Response:
    response = _notification(None)
    response.headers.update(DEPRECATION)
    return response


def _notification(organization_id: str | None) -> Response:
    rt = runtime()
    result = handle_change_notification(rt.db, rt.config, dict(request.headers), request.get_data(cache=False),
                                        organization_id=organization_id, clock=rt.clock)
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
