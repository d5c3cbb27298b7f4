"""The read API: `/v1/offices`, `/contacts`, `/agents`, `/properties`, each a list and a get.

Every view is scoped to the token's account: another account's id is simply not there (404),
never 403, so ids of other tenants cannot be probed. The four resources are declared as data
(`RESOURCES`) and served by the same two views.

Pages are written from each record's cached JSON (`Collection.json_of`) and assembled as text:
a 500-record page is served often, and serialising it afresh each time was most of its cost.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Blueprint, current_app, g, request

from common.timestamps import parse_rfc3339, to_us

from ..oauth import require_scope
from ..responses import not_found, problem, raw_json_response
from ..state import current_state
from .paging import DEFAULT_PER_PAGE, MAX_PER_PAGE, CursorError, ListQuery, Pager
from .validation import validated


@dataclass(frozen=True)
class Resource:
    entity: str  # collection name
    singular: str
    scope: str
    filters: tuple[str, ...]


RESOURCES = {resource.entity: resource for resource in (
    Resource("offices", "office", "read:offices", ()),
    Resource("agents", "agent", "read:agents", ("office_id",)),
    Resource("contacts", "contact", "read:contacts", ("office_id", "agent_id", "contact_type")),
    Resource("properties", "property", "read:properties", ()),
)}
LIST_PARAMS = ("per_page", "cursor", "updated_since", "include_deleted")
PAGER = "pager"  # app.extensions key: filtered totals are cached per app

bp = Blueprint("resources", __name__)


class QueryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = f"query.{field}"
        self.message = message


def list_records(entity: str):
    resource = RESOURCES[entity]
    try:
        query = parse_list_query(resource)
    except QueryError as error:
        return problem(400, "invalid_request", "Invalid query parameter", f"{error.field}: {error.message}",
                       [{"field": error.field, "message": error.message}])
    state, account_id = current_state(), g.grant.account_id
    with state.lock:
        collection = state.world.collection(account_id, entity)
        try:
            page = _pager().page(collection, query, f"{account_id}:{entity}")
        except CursorError as error:
            return problem(404, "invalid_cursor", "No such page", str(error),
                           [{"field": "query.cursor", "message": str(error)}])
        pagination = json.dumps({"total": page.total, "page": page.page, "per_page": page.per_page,
                                 "next_cursor": page.next_cursor}, separators=(",", ":"))
        body = '{"data":[' + ",".join(collection.json_of(r) for r in page.data) + '],"pagination":' + pagination + "}"
    return raw_json_response(body)


def get_record(entity: str, id: str):  # noqa: A002 - the contract names the path parameter `id`
    state = current_state()
    with state.lock:
        collection = state.world.collection(g.grant.account_id, entity)
        record = collection.get(id)
        if record is None:
            return not_found(RESOURCES[entity].singular, id)
        return raw_json_response(collection.json_of(record))


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
            since = to_us(parse_rfc3339(args["updated_since"]))
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


def _pager() -> Pager:
    extensions = current_app.extensions
    pager = extensions.get(PAGER)
    return pager if pager is not None else extensions.setdefault(PAGER, Pager())


for _resource in RESOURCES.values():
    # guard first (401/403 before anything is read), then the contract's checks, then the view
    _guard = require_scope(_resource.scope)
    bp.add_url_rule(f"/v1/{_resource.entity}", f"list_{_resource.entity}", _guard(validated(list_records)),
                    methods=["GET"], defaults={"entity": _resource.entity})
    bp.add_url_rule(f"/v1/{_resource.entity}/<id>", f"get_{_resource.singular}", _guard(validated(get_record)),
                    methods=["GET"], defaults={"entity": _resource.entity})
