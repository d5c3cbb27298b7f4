"""Option A: Broadcast's Standard Webhooks (signed, no bearer token) — email events, propensity,
and the Appendix B batch. The path names the connection (`/v1/webhooks/broadcast/{connection_id}/…`,
contract 1.2.0, DECISIONS item 33) and only its secret is tried: the HMAC key is the connection's, so
a body signed for another connection does not verify. The deprecated routes without a connection
still work the old way (the connection is whichever one's secret verifies) and say so in
`Deprecation`/`Sunset` headers.

Checks, in order: body size/type/JSON (before_request), signature headers present (400), the
path's connection exists (404 not_found), its secret (every secret, on a deprecated route)
verifies the signature (401 invalid_signature), timestamp within tolerance
of the fake's clock (401 timestamp_out_of_tolerance), already-processed `webhook-id` or
`Idempotency-Key` (200 duplicate), body schema (422), unknown contact (404), apply. The
cryptography and the clock-aware tolerance are `common.webhooks`'; the order and the answers
are the contract's. Three defect switches undo one check each (signature, timestamp,
`webhook-id` deduplication), as named branches below.
"""
from __future__ import annotations

from flask import Blueprint, g, make_response, request

from common.webhooks import WebhookError, verify

from ..api.validation import check_request, request_json
from ..defects import WEBHOOK_DUPLICATES_APPLIED, WEBHOOK_SIGNATURE_UNCHECKED, WEBHOOK_TIMESTAMP_UNCHECKED
from ..responses import json_response, problem
from ..state import MockState, current_state
from ..world.connections import Connection
from . import arrivals, landing

WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
ANY_AGE = 10**10  # seconds: the tolerance of the defect webhook-timestamp-unchecked
# The deprecated routes' RFC 9745 / RFC 8594 headers: deprecated with contract 1.2.0, sunset six months on.
DEPRECATION = {"Deprecation": "@1796256000", "Sunset": "Thu, 03 Jun 2027 00:00:00 GMT"}

bp = Blueprint("webhooks", __name__)
bp.before_request(arrivals.begin)
bp.after_request(arrivals.record)


@bp.post("/v1/webhooks/broadcast/<connection_id>/events", endpoint="receive_connection_email_event")
def receive_connection_email_event(connection_id: str):
    return _webhook(_email_event, connection_id)


@bp.post("/v1/webhooks/broadcast/<connection_id>/propensity", endpoint="receive_connection_propensity")
def receive_connection_propensity(connection_id: str):
    return _webhook(_propensity, connection_id)


@bp.post("/v1/webhooks/broadcast/<connection_id>/batch", endpoint="receive_connection_batch")
def receive_connection_batch(connection_id: str):
    return _webhook(_batch, connection_id)


@bp.post("/v1/webhooks/broadcast/events", endpoint="receive_email_event")
def receive_email_event():
    return _deprecated(_webhook(_email_event))


@bp.post("/v1/webhooks/broadcast/propensity", endpoint="receive_propensity")
def receive_propensity():
    return _deprecated(_webhook(_propensity))


@bp.post("/v1/webhooks/broadcast/batch", endpoint="receive_batch")
def receive_batch():
    return _deprecated(_webhook(_batch))


def _deprecated(answer):
    response = make_response(answer)
    response.headers.update(DEPRECATION)
    return response


def _webhook(handler, connection_id: str | None = None):
    failure = _malformed_headers()
    if failure is not None:
        arrivals.note(signature="missing")
        return failure
    state = current_state()
    if connection_id is None:
        candidates = list(state.connections.values())
    elif connection_id in state.connections:
        candidates = [state.connections[connection_id]]
    else:
        arrivals.note(signature="unknown_connection")
        return problem(404, "not_found", "Not found",
                       f"No connection '{connection_id}' (check the id from GET /v1/connection).",
                       [{"field": "path.connection_id", "message": "unknown connection"}])
    connection, failure = _verified_connection(state, candidates, scoped=connection_id is not None)
    if failure is not None:
        return failure
    msg_id = request.headers["webhook-id"]
    idempotency_key = request.headers.get("Idempotency-Key")
    with state.lock:
        replay = _replay(state, connection.id, msg_id, idempotency_key)
        if WEBHOOK_DUPLICATES_APPLIED in state.config.defects:  # defect: a repeat is applied again
            replay = None
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


def _verified_connection(state: MockState, candidates: list[Connection],
                         scoped: bool) -> tuple[Connection | None, object]:
    """(the candidate whose secret signed the body, None), or (None, its 401 problem). `scoped`: the
    path named the one candidate, so the defect below believes the path rather than the body."""
    by_secret = {connection.webhook_secret: connection for connection in candidates}
    tolerance = state.config.webhook_tolerance_seconds
    if WEBHOOK_TIMESTAMP_UNCHECKED in state.config.defects:  # defect: a signature of any age will do
        tolerance = ANY_AGE
    try:
        verified = verify(request.get_data(cache=True), request.headers, by_secret, state.clock.now(), tolerance)
    except WebhookError as error:
        arrivals.note(signature=error.code)
        if error.matched is None and WEBHOOK_SIGNATURE_UNCHECKED in state.config.defects:
            trusted = candidates[0] if scoped else _named_by_body(state)  # defect: believed, signed or not
            if trusted is not None:
                arrivals.note(connection_id=trusted.id)
                return trusted, None
        if error.matched is None:
            whose = "This connection's secret does not verify" if scoped else "No connection secret verifies"
            return None, problem(401, "invalid_signature", "Invalid signature",
                                 f"{whose} this webhook-signature (check the secret from "
                                 "GET /v1/connection and that the body is signed byte for byte).",
                                 [{"field": "header.webhook-signature", "message": "does not verify"}])
        arrivals.note(connection_id=by_secret[error.matched].id)
        return None, problem(401, "timestamp_out_of_tolerance", "Timestamp out of tolerance",
                             f"webhook-timestamp is {abs(error.skew_seconds)} seconds from the server clock; "
                             f"tolerance is {tolerance}.",
                             [{"field": "header.webhook-timestamp", "message": "outside the tolerance window"}])
    arrivals.note(signature="valid", connection_id=by_secret[verified.secret].id)
    return by_secret[verified.secret], None


def _named_by_body(state: MockState) -> Connection | None:
    """The defect webhook-signature-unchecked: a connection of the account holding the contact the
    body names (its first one, for a batch), as a receiver that skips the signature would guess."""
    body = request_json()
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None
    updates = data.get("updates")
    named = updates[0].get("contact_id") if isinstance(updates, list) and updates and isinstance(updates[0], dict) \
        else data.get("contact_id")
    for account in state.world.accounts.values():
        if isinstance(named, str) and account.collections["contacts"].get(named) is not None:
            return next((c for c in state.connections.values() if c.account_id == account.id), None)
    return None


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
