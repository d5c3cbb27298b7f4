"""`/__admin/`: the test and simulator back door. Not part of the contract (and not validated
by it), but every input is checked with the same precise problem+json errors as the API."""
from __future__ import annotations

import hashlib
import json

from flask import Blueprint, current_app, request

from .mutations import ENTITY_COLLECTIONS, OPS, MutationError, churn, mutate
from .problems import problem
from .responses import json_response
from .timeutil import iso_dt, parse_iso
from .world import AGENT_PASSWORD


class AdminInputError(ValueError):
    def __init__(self, status: int, code: str, detail: str, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors = status, code, detail, errors or []

    def response(self):
        return problem(self.status, self.code, "Invalid admin request", self.detail, self.errors)


def admin_body(allowed: set[str]) -> dict:
    """The JSON object body of an admin request, with only `allowed` top-level fields."""
    if not request.get_data():
        return {}
    if not request.is_json:
        raise AdminInputError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        body = json.loads(request.get_data())
    except ValueError as error:
        raise AdminInputError(400, "invalid_request", f"The body is not valid JSON: {error}.") from None
    if not isinstance(body, dict):
        raise AdminInputError(422, "validation_failed", "The body must be a JSON object.",
                              [{"field": "", "message": "must be an object"}])
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise AdminInputError(422, "validation_failed", "The body has unknown fields.",
                              [{"field": name, "message": f"unknown field; allowed: {', '.join(sorted(allowed))}"}
                               for name in unknown])
    return body


def int_arg(name: str, default: int | None, low: int = 0) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low:
        raise AdminInputError(400, "invalid_request", f"Query parameter {name} must be an integer >= {low}.",
                              [{"field": name, "message": f"must be an integer >= {low}"}])
    return value


def build_blueprint(state) -> Blueprint:
    bp = Blueprint("admin", __name__, url_prefix="/__admin")

    @bp.errorhandler(AdminInputError)
    def bad_input(error: AdminInputError):
        return error.response()

    @bp.errorhandler(MutationError)
    def bad_mutation(error: MutationError):
        return problem(error.status, error.code, "Mutation refused", error.detail, error.errors)

    @bp.get("/world")
    def world():
        with state.lock:
            return json_response(world_summary(state))

    @bp.get("/world/export")
    def world_export():
        with state.lock:
            body = state.world.to_jsonable()
            text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return json_response({"sha256": hashlib.sha256(text.encode()).hexdigest(), "world": body})

    @bp.get("/records/<entity>/<record_id>")
    def record(entity: str, record_id: str):
        if entity not in ENTITY_COLLECTIONS.values():
            raise AdminInputError(404, "not_found", f"Unknown entity '{entity}'; one of "
                                                    f"{', '.join(ENTITY_COLLECTIONS.values())}.")
        with state.lock:
            for account in state.world.accounts.values():
                found = account.collections[entity].get(record_id)
                if found is not None:
                    return json_response({"account_id": account.id, "record": found,
                                          "events": state.received.events.get(record_id, [])
                                          if entity == "contacts" else []})
        return problem(404, "not_found", "Not found", f"No {entity} '{record_id}' in any account.")

    @bp.get("/journal")
    def journal():
        since, limit = int_arg("since", 0), int_arg("limit", None, 1)
        entries = state.journal.since(since, limit, operation_id=request.args.get("operation_id"),
                                      path=request.args.get("path"))
        return json_response({"entries": entries, "last_seq": state.journal.last_seq})

    @bp.get("/inbound")
    def inbound():
        since, limit = int_arg("since", 0), int_arg("limit", None, 1)
        entries = state.inbound.since(since, limit, path=request.args.get("path"))
        return json_response({"entries": entries, "last_seq": state.inbound.last_seq})

    @bp.post("/reset")
    def reset():
        body = admin_body({"clock"})
        if "clock" in body and not isinstance(body["clock"], bool):
            raise AdminInputError(422, "validation_failed", "clock must be a boolean.",
                                  [{"field": "clock", "message": "must be true or false"}])
        reset_everything(state, reset_clock=body.get("clock", False))
        return json_response({"status": "reset", "counts": counts(state)})

    @bp.get("/clock")
    def clock_get():
        return json_response(clock_view(state))

    @bp.post("/clock")
    def clock_post():
        body = admin_body({"set", "advance_seconds", "freeze"})
        errors = []
        instant = None
        if "set" in body:
            try:
                instant = parse_iso(body["set"])
            except ValueError as error:
                errors.append({"field": "set", "message": str(error)})
        advance = body.get("advance_seconds")
        if "advance_seconds" in body and (isinstance(advance, bool) or not isinstance(advance, (int, float))):
            errors.append({"field": "advance_seconds", "message": "must be a number of seconds"})
        if "freeze" in body and not isinstance(body["freeze"], bool):
            errors.append({"field": "freeze", "message": "must be true or false"})
        if errors:
            raise AdminInputError(422, "validation_failed", "The clock request is invalid.", errors)
        if "freeze" in body:
            state.clock.freeze(body["freeze"])
        if instant is not None:
            state.clock.set(instant)
        if advance:
            state.clock.advance(advance)
        return json_response(clock_view(state))

    @bp.post("/mutate")
    def mutate_view():
        body = admin_body({"account_id", "entity", "op", "id", "changes", "churn"})
        if "churn" in body:
            return _churn(state, body)
        account_id, entity, op, record_id, changes = _mutation_request(state, body)
        change = mutate(state, account_id, entity, op, record_id, changes)
        return json_response({"event_type": change.event_type, "account_id": change.account_id,
                              "record": change.record}, 201 if op == "create" else 200)

    @bp.get("/faults")
    def faults_get():
        return json_response(state.faults.describe())

    @bp.post("/faults")
    def faults_post():
        body = admin_body({"profile", "faults", "seed"})
        try:
            state.faults.configure(body)
        except ValueError as error:
            errors = getattr(error, "errors", None) or [{"field": "", "message": str(error)}]
            raise AdminInputError(422, "validation_failed", str(error), errors) from None
        return json_response(state.faults.describe())

    return bp


def _churn(state, body: dict):
    if set(body) != {"churn"}:
        raise AdminInputError(422, "validation_failed", "churn cannot be combined with other fields.",
                              [{"field": name, "message": "not allowed with churn"} for name in sorted(set(body) - {"churn"})])
    spec = body["churn"]
    errors = []
    if not isinstance(spec, dict):
        errors.append({"field": "churn", "message": "must be an object like {\"count\": 10}"})
    else:
        for name in sorted(set(spec) - {"count", "account_id"}):
            errors.append({"field": f"churn.{name}", "message": "unknown field; allowed: account_id, count"})
        count = spec.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
            errors.append({"field": "churn.count", "message": "must be an integer from 1 to 100000"})
        if "account_id" in spec and spec["account_id"] not in state.world.accounts:
            errors.append({"field": "churn.account_id", "message": "unknown account"})
    if errors:
        raise AdminInputError(422, "validation_failed", "The churn request is invalid.", errors)
    changes = churn(state, spec["count"], spec.get("account_id"))
    return json_response({"changes": [{"event_type": c.event_type, "account_id": c.account_id,
                                       "id": c.record["id"], "updated_at": c.record["updated_at"]}
                                      for c in changes]})


def _mutation_request(state, body: dict):
    errors = []
    entity, op = body.get("entity"), body.get("op")
    if entity not in ENTITY_COLLECTIONS:
        errors.append({"field": "entity", "message": f"must be one of {', '.join(ENTITY_COLLECTIONS)}"})
    if op not in OPS:
        errors.append({"field": "op", "message": f"must be one of {', '.join(OPS)}"})
    record_id = body.get("id")
    if op in ("update", "delete") and not isinstance(record_id, str):
        errors.append({"field": "id", "message": f"required (a string) for {op}"})
    if op == "create" and record_id is not None:
        errors.append({"field": "id", "message": "ids of new records are assigned by the server"})
    if op == "delete" and body.get("changes"):
        errors.append({"field": "changes", "message": "a delete takes no changes"})
    account_id = body.get("account_id")
    if account_id is not None and account_id not in state.world.accounts:
        errors.append({"field": "account_id", "message": "unknown account"})
    if errors:
        raise AdminInputError(422, "validation_failed", "The mutation request is invalid.", errors)
    if account_id is None:
        account_id = _owner_account(state, ENTITY_COLLECTIONS[entity], record_id) if record_id else \
            next(iter(state.world.accounts))
    return account_id, entity, op, record_id, body.get("changes")


def _owner_account(state, collection: str, record_id: str) -> str:
    with state.lock:
        for account in state.world.accounts.values():
            if account.collections[collection].get(record_id) is not None:
                return account.id
    raise AdminInputError(404, "not_found", f"No {collection[:-1] if collection != 'properties' else 'property'} "
                                            f"'{record_id}' in any account.",
                          [{"field": "id", "message": "unknown id"}])


def reset_everything(state, reset_clock: bool = False) -> None:
    state.reset()
    if reset_clock:
        state.clock.reset()
    store = current_app.extensions.get("oauth_store")
    if store is not None:
        store.reset()
    if state.ratelimiter is not None:
        state.ratelimiter.reset()
    if state.faults is not None:
        state.faults.reset()


def counts(state) -> dict:
    totals: dict[str, int] = {}
    for account in state.world.accounts.values():
        for entity, collection in account.collections.items():
            totals[entity] = totals.get(entity, 0) + collection.live
            totals[f"{entity}_deleted"] = totals.get(f"{entity}_deleted", 0) + len(collection) - collection.live
    return totals


def clock_view(state) -> dict:
    return {"now": iso_dt(state.clock.now()), "frozen": state.clock.frozen}


def world_summary(state) -> dict:
    world = state.world
    accounts = []
    for account in world.accounts.values():
        offices = sorted(account.collections["offices"].records.values(), key=lambda r: r["id"])
        agents = sorted(account.collections["agents"].records.values(), key=lambda r: r["id"])
        accounts.append({
            **account.summary(), "domain": account.domain,
            "offices": [{k: o[k] for k in ("id", "name", "parent_office_id", "deleted_at")} for o in offices],
            "agents": [{k: a[k] for k in ("id", "email", "first_name", "last_name", "role", "office_id",
                                          "is_active", "deleted_at")} for a in agents],
            "counts": {entity: {"live": c.live, "deleted": len(c) - c.live}
                       for entity, c in account.collections.items()},
        })
    return {
        "seed": world.seed,
        "epoch": iso_dt(state.config.epoch),
        "now": iso_dt(state.clock.now()),
        "agent_password": AGENT_PASSWORD,
        "accounts": accounts,
        "clients": [{"client_id": c.client_id, "client_secret": c.client_secret,
                     "confidential": c.client_secret is not None, "name": c.name,
                     "redirect_uris": list(c.redirect_uris), "scopes": list(c.scopes)}
                    for c in state.config.clients],
        "connections": [{"id": c.id, "client_id": c.client_id, "account_id": c.account_id,
                         "webhook_secret": c.webhook_secret,
                         "subscriptions": [s.to_json() for s in c.subscriptions.values()]}
                        for c in state.connections.values()],
        "counts": counts(state),
    }
