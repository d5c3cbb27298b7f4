"""`GET /v1/connection` (who am I, and the connection's webhook secret) and the change-notification
subscriptions of a connection (`/v1/subscriptions`). Any live token of the connection may use
them, whatever its scopes; what a subscription is told is limited by the subscribing token's
scopes (see `notifications`).
"""
from __future__ import annotations

from flask import Blueprint, g, request

from ..oauth import Grant, require_scope
from ..responses import json_response, not_found, problem
from ..state import MockState, current_state
from ..world.connections import Subscription
from .validation import validated

MAX_SUBSCRIPTIONS = 10

bp = Blueprint("subscriptions", __name__)
any_token = require_scope("")  # an empty requirement: any live token of the account


@bp.get("/v1/connection", endpoint="get_connection")
@any_token
@validated
def get_connection():
    return json_response(connection_view(current_state(), g.grant))


@bp.get("/v1/subscriptions", endpoint="list_subscriptions")
@any_token
@validated
def list_subscriptions():
    state = current_state()
    connection = state.connections[g.grant.connection_id]
    with state.lock:
        data = [s.to_json() for s in connection.subscriptions.values()]
    return json_response({"data": data, "pagination": {"total": len(data), "per_page": MAX_SUBSCRIPTIONS,
                                                       "next_cursor": None, "page": 1}})


@bp.post("/v1/subscriptions", endpoint="create_subscription")
@any_token
@validated
def create_subscription():
    state = current_state()
    body = request.get_json()
    connection = state.connections[g.grant.connection_id]
    with state.lock:
        if len(connection.subscriptions) >= MAX_SUBSCRIPTIONS:
            return problem(409, "conflict", "Too many subscriptions",
                           f"A connection has at most {MAX_SUBSCRIPTIONS} subscriptions; delete one first.",
                           [{"field": "/url", "message": f"at most {MAX_SUBSCRIPTIONS} subscriptions"}])
        subscription = Subscription(state.next_subscription_id(), body["url"], list(body.get("events") or ["*"]),
                                    state.now_text(), frozenset(g.grant.scopes))
        connection.subscriptions[subscription.id] = subscription
    return json_response(subscription.to_json(), 201, {"Location": f"/v1/subscriptions/{subscription.id}"})


@bp.delete("/v1/subscriptions/<id>", endpoint="delete_subscription")
@any_token
@validated
def delete_subscription(id: str):  # noqa: A002 - the contract names the path parameter `id`
    state = current_state()
    connection = state.connections[g.grant.connection_id]
    with state.lock:
        removed = connection.subscriptions.pop(id, None)
    if removed is None:
        return not_found("subscription", id)
    return "", 204


def connection_view(state: MockState, grant: Grant) -> dict:
    connection = state.connections[grant.connection_id]
    account = state.world.account(grant.account_id)
    agent = state.world.collection(grant.account_id, "agents").get(grant.agent_id) or {}
    client = next((c for c in state.config.clients if c.client_id == grant.client_id), None)
    return {
        "id": connection.id,
        "account": {"id": account.id, "name": account.name},
        "agent": {key: agent.get(key) for key in ("id", "email", "first_name", "last_name", "role")},
        "client": {"id": grant.client_id, "name": client.name if client else grant.client_id},
        "scopes": sorted(grant.scopes),
        "webhook_signing_secret": connection.webhook_secret,
        "subscriptions": [s.to_json() for s in connection.subscriptions.values()],
    }
