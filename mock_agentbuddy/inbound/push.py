"""Option B: the push API (bearer token with `write:engagement`, optional `Idempotency-Key`).

`Idempotency-Key` is remembered per connection for 24 hours with a fingerprint of the request:
the same key and request answer the first answer again (`Idempotent-Replayed: true`); the same
key with another request is a 409 conflict.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, g, request

from common.timestamps import to_us

from ..api.validation import check_request, request_json
from ..oauth import require_scope
from ..responses import json_response, problem
from ..state import current_state
from . import arrivals, landing

IDEMPOTENCY_TTL_US = 24 * 3600 * 1_000_000

bp = Blueprint("push", __name__)
bp.before_request(arrivals.begin)
bp.after_request(arrivals.record)
writer = require_scope("write:engagement")


@bp.route("/v1/contacts/<id>/engagement", methods=["POST", "PATCH"], endpoint="push_engagement")
@writer
def push_engagement(id: str):  # noqa: A002 - the contract names the path parameter `id`
    return _push(lambda body: _engagement(id, body))


@bp.route("/v1/contacts/<id>/propensity", methods=["POST", "PATCH"], endpoint="push_propensity")
@writer
def push_propensity(id: str):  # noqa: A002
    return _push(lambda body: _propensity(id, body))


@bp.post("/v1/contacts/<id>/events", endpoint="push_event")
@writer
def push_event(id: str):  # noqa: A002
    return _push(lambda body: _event(id, body))


@bp.post("/v1/engagement/bulk", endpoint="push_bulk")
@writer
def push_bulk():
    return _push(lambda body: (200, landing.apply_batch(current_state(), g.grant.account_id, body["updates"], None)))


def _push(apply):
    """Validate, honour Idempotency-Key (per connection), apply, remember the 2xx answer."""
    failure = check_request()
    if failure is not None:
        return failure
    state = current_state()
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
                arrivals.note(duplicate=True)
                response = json_response(previous[2], previous[1])
                response.headers["Idempotent-Replayed"] = "true"
                return response
        outcome = apply(request_json())
        if not isinstance(outcome, tuple):  # a problem response
            return outcome
        status, body = outcome
        arrivals.note(applied=g.inbound.get("applied") or not g.inbound.get("duplicate"))
        if key:
            state.received.idempotency[scope] = (fingerprint, status, body, now_us)
    return json_response(body, status)


def _engagement(contact_id: str, body: dict):
    contact, failure = arrivals.contact_or_404(g.grant.account_id, contact_id)
    if failure is not None:
        return failure
    return 200, landing.apply_engagement(current_state(), contact, body, replace=request.method == "POST")


def _propensity(contact_id: str, body: dict):
    contact, failure = arrivals.contact_or_404(g.grant.account_id, contact_id)
    if failure is not None:
        return failure
    stored, applied = landing.apply_propensity(current_state(), contact, body, replace=request.method == "POST")
    arrivals.note(applied=applied, duplicate=not applied)
    return 200, stored


def _event(contact_id: str, body: dict):
    contact, failure = arrivals.contact_or_404(g.grant.account_id, contact_id)
    if failure is not None:
        return failure
    outcome = landing.apply_event(current_state(), g.grant.account_id, contact, body)
    arrivals.note(duplicate=outcome.duplicate)
    return (200 if outcome.duplicate else 201), outcome.stored
