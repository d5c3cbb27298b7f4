"""Option A: Broadcast's Standard Webhooks (signed, no bearer token) — email events, propensity,
and the Appendix B batch. The connection is whichever one's secret verifies the signature.

Checks, in order: body size/type/JSON (before_request), signature headers present (400), a
connection's secret verifies the signature (401 invalid_signature), timestamp within tolerance
of the fake's clock (401 timestamp_out_of_tolerance), already-processed `webhook-id` or
`Idempotency-Key` (200 duplicate), body schema (422), unknown contact (404), apply. The
cryptography and the clock-aware tolerance are `common.webhooks`'; the order and the answers
are the contract's.
"""
from __future__ import annotations

from flask import Blueprint, g, request

from common.webhooks import WebhookError, verify

from ..api.validation import check_request, request_json
from ..responses import json_response, problem
from ..state import MockState, current_state
from ..world.connections import Connection
from . import arrivals, landing

WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")

bp = Blueprint("webhooks", __name__)
bp.before_request(arrivals.begin)
bp.after_request(arrivals.record)


@bp.post("/v1/webhooks/broadcast/events", endpoint="receive_email_event")
def receive_email_event():
    return _webhook(_email_event)


@bp.post("/v1/webhooks/broadcast/propensity", endpoint="receive_propensity")
def receive_propensity():
    return _webhook(_propensity)


@bp.post("/v1/webhooks/broadcast/batch", endpoint="receive_batch")
def receive_batch():
    return _webhook(_batch)


def _webhook(handler):
    failure = _malformed_headers()
    if failure is not None:
        arrivals.note(signature="missing")
        return failure
    state = current_state()
    connection, failure = _verified_connection(state)
    if failure is not None:
        return failure
    msg_id = request.headers["webhook-id"]
    idempotency_key = request.headers.get("Idempotency-Key")
    with state.lock:
        replay = _replay(state, connection.id, msg_id, idempotency_key)
        if replay is not None:
            arrivals.note(duplicate=True)
            return json_response(replay)
        failure = check_request()
        if failure is not None:
            return failure
        status, answer = handler(state, connection, msg_id, request_json())
        if status == 200:
            _remember(state, connection.id, msg_id, idempotency_key, answer)
    return answer if status != 200 else json_response(answer)


def _malformed_headers():
    missing = [name for name in WEBHOOK_HEADERS if not request.headers.get(name)]
    errors = [{"field": f"header.{name}", "message": "required (Standard Webhooks)"} for name in missing]
    if "webhook-timestamp" not in missing and not request.headers["webhook-timestamp"].isdigit():
        errors.append({"field": "header.webhook-timestamp", "message": "must be Unix seconds (an integer)"})
    if not errors:
        return None
    return problem(400, "invalid_request", "Missing or malformed webhook headers",
                   "Standard Webhooks needs webhook-id, webhook-timestamp and webhook-signature.", errors)


def _verified_connection(state: MockState) -> tuple[Connection | None, object]:
    """(the connection whose secret signed the body, None), or (None, its 401 problem)."""
    by_secret = {connection.webhook_secret: connection for connection in state.connections.values()}
    tolerance = state.config.webhook_tolerance_seconds
    try:
        verified = verify(request.get_data(cache=True), request.headers, by_secret, state.clock.now(), tolerance)
    except WebhookError as error:
        arrivals.note(signature=error.code)
        if error.matched is None:
            return None, problem(401, "invalid_signature", "Invalid signature",
                                 "No connection secret verifies this webhook-signature (check the secret from "
                                 "GET /v1/connection and that the body is signed byte for byte).",
                                 [{"field": "header.webhook-signature", "message": "does not verify"}])
        arrivals.note(connection_id=by_secret[error.matched].id)
        return None, problem(401, "timestamp_out_of_tolerance", "Timestamp out of tolerance",
                             f"webhook-timestamp is {abs(error.skew_seconds)} seconds from the server clock; "
                             f"tolerance is {tolerance}.",
                             [{"field": "header.webhook-timestamp", "message": "outside the tolerance window"}])
    arrivals.note(signature="valid", connection_id=by_secret[verified.secret].id)
    return by_secret[verified.secret], None


def _replay(state: MockState, connection_id: str, msg_id: str, idempotency_key: str | None) -> dict | None:
    seen = state.received.webhook_ids
    original = seen.get((connection_id, "webhook-id", msg_id))
    if original is None and idempotency_key:
        original = seen.get((connection_id, "idempotency-key", idempotency_key))
    if original is None:
        return None
    if "results" in original:  # a BulkResult: same outcome, marked as a duplicate
        return {**original, "webhook_id": msg_id, "duplicate": True}
    return {"webhook_id": msg_id, "status": "duplicate"}


def _remember(state: MockState, connection_id: str, msg_id: str, idempotency_key: str | None, answer: dict) -> None:
    state.received.webhook_ids[(connection_id, "webhook-id", msg_id)] = answer
    if idempotency_key:
        state.received.webhook_ids[(connection_id, "idempotency-key", idempotency_key)] = answer


# -- what each webhook does --------------------------------------------------------------------

def _email_event(state: MockState, connection: Connection, msg_id: str, body: dict):
    data = body["data"]
    contact, failure = arrivals.contact_or_404(connection.account_id, data["contact_id"])
    if failure is not None:
        return 404, failure
    event = {"event_id": data.get("event_id") or landing.synthetic_event_id(msg_id),
             "event_type": body["event_type"].split(".", 1)[1], "campaign_id": data.get("campaign_id"),
             "campaign_name": data.get("campaign_name"), "timestamp": body["timestamp"],
             "metadata": data.get("metadata")}
    outcome = landing.apply_event(state, connection.account_id, contact, event)
    arrivals.note(duplicate=outcome.duplicate, applied=not outcome.duplicate)
    return 200, {"webhook_id": msg_id, "status": "duplicate" if outcome.duplicate else "accepted"}


def _propensity(state: MockState, connection: Connection, msg_id: str, body: dict):
    data = dict(body["data"])
    contact, failure = arrivals.contact_or_404(connection.account_id, data.pop("contact_id"))
    if failure is not None:
        return 404, failure
    _, applied = landing.apply_propensity(state, contact, data, replace=True, as_of=body["timestamp"])
    arrivals.note(applied=applied)
    return 200, {"webhook_id": msg_id, "status": "accepted"}


def _batch(state: MockState, connection: Connection, msg_id: str, body: dict):
    result = landing.apply_batch(state, connection.account_id, body["data"]["updates"], body["timestamp"])
    arrivals.note(applied=result["applied"] > 0)
    return 200, {"webhook_id": msg_id, "duplicate": False, **result}
