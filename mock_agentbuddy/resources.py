"""The read API (`/v1/offices`, `/contacts`, `/agents`, `/properties`), `GET /v1/connection`
and change-notification subscriptions.

Every view is scoped to the token's account: another account's id is simply not there (404),
never 403, so ids of other tenants cannot be probed.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, g, request

from .connections import Subscription
from .pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, CursorError, ListQuery, Pager
from .problems import problem
from .responses import json_response
from .timeutil import iso_dt, parse_iso, to_us


@dataclass(frozen=True)
class Resource:
    entity: str  # collection name
    singular: str
    scope: str
    filters: tuple[str, ...]


RESOURCES = (
    Resource("offices", "office", "read:offices", ("parent_office_id",)),
    Resource("agents", "agent", "read:agents", ("office_id", "role")),
    Resource("contacts", "contact", "read:contacts", ("office_id", "agent_id", "contact_type")),
    Resource("properties", "property", "read:properties", ("owner_contact_id",)),
)
LIST_PARAMS = ("per_page", "cursor", "updated_since", "include_deleted")
SUBSCRIPTION_ENTITIES = ("contact", "office", "agent", "property")
SUBSCRIPTION_ACTIONS = ("created", "updated", "deleted")


class QueryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_list_query(resource: Resource) -> ListQuery:
    args = request.args
    unknown = [name for name in args if name not in LIST_PARAMS and name not in resource.filters]
    if unknown:
        raise QueryError(unknown[0], f"unknown query parameter; allowed: "
                                     f"{', '.join(LIST_PARAMS + resource.filters)}")
    for name in args:
        if len(args.getlist(name)) > 1:
            raise QueryError(name, "give this parameter once")
    per_page = DEFAULT_PER_PAGE
    if "per_page" in args:
        try:
            per_page = int(args["per_page"])
        except ValueError:
            raise QueryError("per_page", "must be an integer") from None
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise QueryError("per_page", f"must be between 1 and {MAX_PER_PAGE}")
    since = None
    if "updated_since" in args:
        try:
            since = to_us(parse_iso(args["updated_since"]))
        except ValueError as error:
            raise QueryError("updated_since", str(error)) from None
    include_deleted = False
    if "include_deleted" in args:
        value = args["include_deleted"].lower()
        if value not in ("true", "false"):
            raise QueryError("include_deleted", "must be true or false")
        include_deleted = value == "true"
    cursor = args.get("cursor") or None
    filters = {name: args[name] for name in resource.filters if name in args}
    return ListQuery(per_page, cursor, since, include_deleted, filters)


def build_blueprint(state, require_scope) -> Blueprint:
    bp = Blueprint("resources", __name__)
    pager = Pager()
    any_token = require_scope("")  # an empty requirement: any live token of the account

    for resource in RESOURCES:
        _register(bp, state, pager, resource, require_scope(resource.scope))

    @bp.get("/v1/connection", endpoint="get_connection")
    @any_token
    def get_connection():
        return json_response(connection_view(state, g.grant))

    @bp.get("/v1/subscriptions", endpoint="list_subscriptions")
    @any_token
    def list_subscriptions():
        connection = state.connections[g.grant.connection_id]
        with state.lock:
            data = [s.to_json() for s in connection.subscriptions.values()]
        return json_response({"data": data})

    @bp.post("/v1/subscriptions", endpoint="create_subscription")
    @any_token
    def create_subscription():
        body = request.get_json(silent=True)
        errors = subscription_errors(body)
        if errors:
            return problem(422, "validation_failed", "Invalid subscription",
                           "The subscription body does not match the contract.", errors)
        connection = state.connections[g.grant.connection_id]
        with state.lock:
            subscription = Subscription(state.next_subscription_id(), body["url"],
                                        list(body.get("events") or ["*"]), iso_dt(state.clock.now()))
            connection.subscriptions[subscription.id] = subscription
        return json_response(subscription.to_json(), 201,
                             {"Location": f"/v1/subscriptions/{subscription.id}"})

    @bp.delete("/v1/subscriptions/<subscription_id>", endpoint="delete_subscription")
    @any_token
    def delete_subscription(subscription_id: str):
        connection = state.connections[g.grant.connection_id]
        with state.lock:
            removed = connection.subscriptions.pop(subscription_id, None)
        if removed is None:
            return not_found("subscription", subscription_id)
        return "", 204

    return bp


def _register(bp: Blueprint, state, pager: Pager, resource: Resource, guard) -> None:
    def list_view():
        try:
            query = parse_list_query(resource)
        except QueryError as error:
            return problem(400, "invalid_request", "Invalid query parameter", error.message,
                           [{"field": error.field, "message": error.message}])
        account_id = g.grant.account_id
        with state.lock:
            collection = state.world.collection(account_id, resource.entity)
            try:
                page = pager.page(collection, query, f"{account_id}:{resource.entity}")
            except CursorError as error:
                return problem(400, "invalid_cursor", "Invalid cursor", str(error),
                               [{"field": "cursor", "message": str(error)}])
            body = {"data": page.data,
                    "pagination": {"total": page.total, "per_page": page.per_page,
                                   "next_cursor": page.next_cursor}}
            return json_response(body)

    def get_view(record_id: str):
        with state.lock:
            record = state.world.collection(g.grant.account_id, resource.entity).get(record_id)
            if record is None:
                return not_found(resource.singular, record_id)
            return json_response(record)

    bp.add_url_rule(f"/v1/{resource.entity}", f"list_{resource.entity}", guard(list_view), methods=["GET"])
    bp.add_url_rule(f"/v1/{resource.entity}/<{resource.singular}_id>", f"get_{resource.singular}",
                    guard(_rename(get_view, f"{resource.singular}_id")), methods=["GET"])


def _rename(view, argument: str):
    def renamed(**kwargs):
        return view(kwargs[argument])

    renamed.__name__ = f"{view.__name__}_{argument}"
    return renamed


def not_found(kind: str, record_id: str):
    return problem(404, "not_found", "Not found", f"No {kind} with id '{record_id}' in this account.")


def connection_view(state, grant) -> dict:
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


def subscription_errors(body) -> list[dict]:
    if not isinstance(body, dict):
        return [{"field": "", "message": "body must be a JSON object"}]
    errors = []
    for name in body:
        if name not in ("url", "events"):
            errors.append({"field": name, "message": "unknown field"})
    url = body.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        errors.append({"field": "url", "message": "must be an absolute http(s) URL"})
    events = body.get("events", ["*"])
    if not isinstance(events, list) or not events:
        errors.append({"field": "events", "message": "must be a non-empty list of event type patterns"})
    else:
        for index, pattern in enumerate(events):
            if not valid_event_pattern(pattern):
                errors.append({"field": f"events[{index}]", "message":
                               "must be '*', '<entity>.*' or '<entity>.<created|updated|deleted>' "
                               f"with entity one of {', '.join(SUBSCRIPTION_ENTITIES)}"})
    return errors


def valid_event_pattern(pattern) -> bool:
    if pattern == "*":
        return True
    if not isinstance(pattern, str) or pattern.count(".") != 1:
        return False
    entity, action = pattern.split(".")
    return entity in SUBSCRIPTION_ENTITIES and (action == "*" or action in SUBSCRIPTION_ACTIONS)
