"""Data from Broadcast: Option A webhooks (Standard Webhooks signed, no bearer) and Option B
push (bearer `write:engagement`, optional `Idempotency-Key`). Both land on the contact through
`engagement`; every inbound request, accepted or not, is written to the inbound log.

Webhook checks, in order: body size/type/JSON (before_request), signature headers present (400),
a connection's secret verifies the signature (401 invalid_signature), timestamp within
tolerance of the fake's clock (401 timestamp_out_of_tolerance), already-processed `webhook-id`
or `Idempotency-Key` (200 duplicate; 409 conflict when reused for another request), body schema (422), unknown contact (404), apply.
"""
from __future__ import annotations

import hashlib
import json

from flask import Blueprint, g, request

from . import engagement
from .problems import problem
from .responses import json_response
from .signatures import verify
from .timeutil import iso_dt, to_us
from .validation import check_request, request_json

WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
IDEMPOTENCY_TTL_US = 24 * 3600 * 1_000_000


def build_blueprint(state, require_scope) -> Blueprint:
    bp = Blueprint("inbound", __name__)
    writer = require_scope("write:engagement")

    @bp.before_request
    def start_record():
        g.inbound = {"webhook_id": request.headers.get("webhook-id"), "connection_id": None,
                     "signature": "not_applicable", "duplicate": False, "applied": False,
                     "idempotency_key": request.headers.get("Idempotency-Key")}

    @bp.after_request
    def record(response):
        info = g.get("inbound") or {"webhook_id": request.headers.get("webhook-id"), "connection_id": None,
                                    "signature": "not_checked", "duplicate": False, "applied": False,
                                    "idempotency_key": request.headers.get("Idempotency-Key")}
        grant = g.get("grant")
        body = request.get_data(cache=True)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body[:2000].decode("utf-8", "replace")
        state.inbound.append({
            "time": iso_dt(state.clock.now()), "method": request.method, "path": request.path,
            "operation_id": g.get("operation_id"), "status": response.status_code, "fault": g.get("fault"),
            **info, "connection_id": info.get("connection_id") or (grant.connection_id if grant else None),
            "payload": payload,
        })
        return response

    # -- Option A ---------------------------------------------------------------------------
    @bp.post("/v1/webhooks/broadcast/events", endpoint="receive_email_event")
    def receive_email_event():
        return _webhook(state, _email_event)

    @bp.post("/v1/webhooks/broadcast/propensity", endpoint="receive_propensity")
    def receive_propensity():
        return _webhook(state, _propensity)

    @bp.post("/v1/webhooks/broadcast/batch", endpoint="receive_batch")
    def receive_batch():
        return _webhook(state, _batch)

    # -- Option B ---------------------------------------------------------------------------
    @bp.route("/v1/contacts/<id>/engagement", methods=["POST", "PATCH"], endpoint="push_engagement")
    @writer
    def push_engagement(id: str):  # noqa: A002 - the contract names the path parameter `id`
        return _push(state, lambda body: _engagement_push(state, id, body))

    @bp.route("/v1/contacts/<id>/propensity", methods=["POST", "PATCH"], endpoint="push_propensity")
    @writer
    def push_propensity(id: str):  # noqa: A002
        return _push(state, lambda body: _propensity_push(state, id, body))

    @bp.post("/v1/contacts/<id>/events", endpoint="push_event")
    @writer
    def push_event(id: str):  # noqa: A002
        return _push(state, lambda body: _event_push(state, id, body))

    @bp.post("/v1/engagement/bulk", endpoint="push_bulk")
    @writer
    def push_bulk():
        return _push(state, lambda body: (200, engagement.apply_batch(state, g.grant.account_id, body["updates"], None)))

    return bp


# -- webhooks --------------------------------------------------------------------------------

def _webhook(state, handler):
    missing = [name for name in WEBHOOK_HEADERS if not request.headers.get(name)]
    timestamp_text = request.headers.get("webhook-timestamp", "")
    errors = [{"field": f"header.{name}", "message": "required (Standard Webhooks)"} for name in missing]
    if "webhook-timestamp" not in missing and not timestamp_text.isdigit():
        errors.append({"field": "header.webhook-timestamp", "message": "must be Unix seconds (an integer)"})
    if errors:
        g.inbound["signature"] = "missing"
        return problem(400, "invalid_request", "Missing or malformed webhook headers",
                       "Standard Webhooks needs webhook-id, webhook-timestamp and webhook-signature.", errors)
    msg_id = request.headers["webhook-id"]
    body = request.get_data(cache=True).decode("utf-8", "replace")
    verdict = verify(state.connections.values(), msg_id, int(timestamp_text), request.headers["webhook-signature"],
                     body, state.clock.now(), state.config.webhook_tolerance_seconds)
    g.inbound["signature"] = verdict.reason
    if verdict.connection is None:
        return problem(401, "invalid_signature", "Invalid signature",
                       "No connection secret verifies this webhook-signature (check the secret from "
                       "GET /v1/connection and that the body is signed byte for byte).",
                       [{"field": "header.webhook-signature", "message": "does not verify"}])
    connection = verdict.connection
    g.inbound["connection_id"] = connection.id
    if verdict.reason == "timestamp_out_of_tolerance":
        return problem(401, "timestamp_out_of_tolerance", "Timestamp out of tolerance",
                       f"webhook-timestamp is {abs(verdict.skew_seconds)} seconds from the server clock; "
                       f"tolerance is {state.config.webhook_tolerance_seconds}.",
                       [{"field": "header.webhook-timestamp", "message": "outside the tolerance window"}])
    with state.lock:
        replay = _replay(state, connection.id, msg_id, request.headers.get("Idempotency-Key"))
        if replay is not None:
            g.inbound["duplicate"] = True
            return json_response(replay)
        failure = check_request()
        if failure is not None:
            return failure
        status, answer = handler(state, connection, msg_id, request_json())
        if status == 200:
            _remember(state, connection.id, msg_id, request.headers.get("Idempotency-Key"), answer)
    return answer if status != 200 else json_response(answer)


def _replay(state, connection_id: str, msg_id: str, idempotency_key: str | None) -> dict | None:
    seen = state.received.webhook_ids
    original = seen.get((connection_id, "webhook-id", msg_id))
    if original is None and idempotency_key:
        original = seen.get((connection_id, "idempotency-key", idempotency_key))
    if original is None:
        return None
    if "results" in original:  # a BulkResult: same outcome, marked as a duplicate
        return {**original, "webhook_id": msg_id, "duplicate": True}
    return {"webhook_id": msg_id, "status": "duplicate"}


def _remember(state, connection_id: str, msg_id: str, idempotency_key: str | None, answer: dict) -> None:
    state.received.webhook_ids[(connection_id, "webhook-id", msg_id)] = answer
    if idempotency_key:
        state.received.webhook_ids[(connection_id, "idempotency-key", idempotency_key)] = answer


def _contact_or_404(state, account_id: str, contact_id: str):
    contact = engagement.live_contact(state, account_id, contact_id)
    if contact is None:
        return None, problem(404, "not_found", "Not found",
                             f"No contact '{contact_id}' in this connection's account (unknown or deleted).",
                             [{"field": "/data/contact_id", "message": "unknown contact"}])
    return contact, None


def _email_event(state, connection, msg_id: str, body: dict):
    data = body["data"]
    contact, failure = _contact_or_404(state, connection.account_id, data["contact_id"])
    if failure is not None:
        return 404, failure
    event = {"event_id": data.get("event_id") or engagement.synthetic_event_id(msg_id),
             "event_type": body["event_type"].split(".", 1)[1], "campaign_id": data.get("campaign_id"),
             "campaign_name": data.get("campaign_name"), "timestamp": body["timestamp"],
             "metadata": data.get("metadata")}
    outcome = engagement.apply_event(state, connection.account_id, contact, event)
    g.inbound["duplicate"] = outcome.duplicate
    g.inbound["applied"] = not outcome.duplicate
    return 200, {"webhook_id": msg_id, "status": "duplicate" if outcome.duplicate else "accepted"}


def _propensity(state, connection, msg_id: str, body: dict):
    data = dict(body["data"])
    contact, failure = _contact_or_404(state, connection.account_id, data.pop("contact_id"))
    if failure is not None:
        return 404, failure
    _, applied = engagement.apply_propensity(state, contact, data, replace=True, as_of=body["timestamp"])
    g.inbound["applied"] = applied
    return 200, {"webhook_id": msg_id, "status": "accepted"}


def _batch(state, connection, msg_id: str, body: dict):
    result = engagement.apply_batch(state, connection.account_id, body["data"]["updates"], body["timestamp"])
    g.inbound["applied"] = result["applied"] > 0
    return 200, {"webhook_id": msg_id, "duplicate": False, **result}


# -- Option B push -----------------------------------------------------------------------------

def _push(state, apply):
    """Validate, honour Idempotency-Key (per connection), apply, remember the 2xx answer."""
    failure = check_request()
    if failure is not None:
        return failure
    key = request.headers.get("Idempotency-Key")
    fingerprint = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n"
                                 + request.get_data(cache=True)).hexdigest()
    scope = (g.grant.connection_id, key)
    now_us = to_us(state.clock.now())
    with state.lock:
        if key:
            previous = state.received.idempotency.get(scope)
            if previous is not None and now_us - previous[3] > IDEMPOTENCY_TTL_US:
                previous = None  # the contract keeps keys 24 hours; after that a key is new again
            if previous is not None:
                if previous[0] != fingerprint:
                    return problem(409, "conflict", "Idempotency-Key reused",
                                   "This Idempotency-Key was already used with a different request; "
                                   "use a new key for a new request.",
                                   [{"field": "header.Idempotency-Key", "message": "reused with a different body or path"}])
                g.inbound["duplicate"] = True
                response = json_response(previous[2], previous[1])
                response.headers["Idempotent-Replayed"] = "true"
                return response
        outcome = apply(request_json())
        if not isinstance(outcome, tuple):  # a problem response
            return outcome
        status, body = outcome
        g.inbound["applied"] = g.inbound.get("applied") or not g.inbound.get("duplicate")
        if key:
            state.received.idempotency[scope] = (fingerprint, status, body, now_us)
    return json_response(body, status)


def _engagement_push(state, contact_id: str, body: dict):
    contact, failure = _contact_or_404(state, g.grant.account_id, contact_id)
    if failure is not None:
        return failure
    return 200, engagement.apply_engagement(state, contact, body, replace=request.method == "POST")


def _propensity_push(state, contact_id: str, body: dict):
    contact, failure = _contact_or_404(state, g.grant.account_id, contact_id)
    if failure is not None:
        return failure
    stored, applied = engagement.apply_propensity(state, contact, body, replace=request.method == "POST")
    g.inbound["applied"] = applied
    g.inbound["duplicate"] = not applied
    return 200, stored


def _event_push(state, contact_id: str, body: dict):
    contact, failure = _contact_or_404(state, g.grant.account_id, contact_id)
    if failure is not None:
        return failure
    outcome = engagement.apply_event(state, g.grant.account_id, contact, body)
    g.inbound["duplicate"] = outcome.duplicate
    return (200 if outcome.duplicate else 201), outcome.stored
