"""The read API (`/v1/offices`, `/contacts`, `/agents`, `/properties`), `GET /v1/connection`
and change-notification subscriptions.

Every view is scoped to the token's account: another account's id is simply not there (404),
never 403, so ids of other tenants cannot be probed.
"""
from __future__ import annotations

from dataclasses import dataclass
import json

from flask import Blueprint, Response, g, request

from .connections import Subscription
from .pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, CursorError, ListQuery, Pager
from .problems import problem
from .responses import json_response
from .validation import validated
from .timeutil import iso_dt, parse_iso, to_us


@dataclass(frozen=True)
class Resource:
    entity: str  # collection name
    singular: str
    scope: str
    filters: tuple[str, ...]


RESOURCES = (
    Resource("offices", "office", "read:offices", ()),
    Resource("agents", "agent", "read:agents", ("office_id",)),
    Resource("contacts", "contact", "read:contacts", ("office_id", "agent_id", "contact_type")),
    Resource("properties", "property", "read:properties", ()),
)
LIST_PARAMS = ("per_page", "cursor", "updated_since", "include_deleted")
MAX_SUBSCRIPTIONS = 10


class QueryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = f"query.{field}"
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
    @validated
    def get_connection():
        return json_response(connection_view(state, g.grant))

    @bp.get("/v1/subscriptions", endpoint="list_subscriptions")
    @any_token
    @validated
    def list_subscriptions():
        connection = state.connections[g.grant.connection_id]
        with state.lock:
            data = [s.to_json() for s in connection.subscriptions.values()]
        return json_response({"data": data, "pagination": {"total": len(data), "per_page": MAX_SUBSCRIPTIONS,
                                                           "next_cursor": None, "page": 1}})

    @bp.post("/v1/subscriptions", endpoint="create_subscription")
    @any_token
    @validated
    def create_subscription():
        body = request.get_json()
        connection = state.connections[g.grant.connection_id]
        with state.lock:
            if len(connection.subscriptions) >= MAX_SUBSCRIPTIONS:
                return problem(409, "conflict", "Too many subscriptions",
                               f"A connection has at most {MAX_SUBSCRIPTIONS} subscriptions; delete one first.",
                               [{"field": "/url", "message": f"at most {MAX_SUBSCRIPTIONS} subscriptions"}])
            subscription = Subscription(state.next_subscription_id(), body["url"], list(body.get("events") or ["*"]),
                                        iso_dt(state.clock.now()), frozenset(g.grant.scopes))
            connection.subscriptions[subscription.id] = subscription
        return json_response(subscription.to_json(), 201,
                             {"Location": f"/v1/subscriptions/{subscription.id}"})

    @bp.delete("/v1/subscriptions/<id>", endpoint="delete_subscription")
    @any_token
    @validated
    def delete_subscription(id: str):  # noqa: A002 - the contract names the path parameter `id`
        connection = state.connections[g.grant.connection_id]
        with state.lock:
            removed = connection.subscriptions.pop(id, None)
        if removed is None:
            return not_found("subscription", id)
        return "", 204

    return bp


def _register(bp: Blueprint, state, pager: Pager, resource: Resource, guard) -> None:
    def list_view():
        try:
            query = parse_list_query(resource)
        except QueryError as error:
            return problem(400, "invalid_request", "Invalid query parameter", f"{error.field}: {error.message}",
                           [{"field": error.field, "message": error.message}])
        account_id = g.grant.account_id
        with state.lock:
            collection = state.world.collection(account_id, resource.entity)
            try:
                page = pager.page(collection, query, f"{account_id}:{resource.entity}")
            except CursorError as error:
                return problem(404, "invalid_cursor", "No such page", str(error),
                               [{"field": "query.cursor", "message": str(error)}])
            pagination = json.dumps({"total": page.total, "page": page.page, "per_page": page.per_page,
                                     "next_cursor": page.next_cursor}, separators=(",", ":"))
            body = '{"data":[' + ",".join(collection.json_of(r) for r in page.data) + '],"pagination":' + pagination + "}"
        return Response(body, content_type="application/json")

    def get_view(id: str):  # noqa: A002 - the contract names the path parameter `id`
        record_id = id
        with state.lock:
            collection = state.world.collection(g.grant.account_id, resource.entity)
            record = collection.get(record_id)
            if record is None:
                return not_found(resource.singular, record_id)
            return Response(collection.json_of(record), content_type="application/json")

    list_view.__name__ = f"list_{resource.entity}"
    get_view.__name__ = f"get_{resource.singular}"
    bp.add_url_rule(f"/v1/{resource.entity}", list_view.__name__, guard(validated(list_view)), methods=["GET"])
    bp.add_url_rule(f"/v1/{resource.entity}/<id>", get_view.__name__, guard(validated(get_view)), methods=["GET"])


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
