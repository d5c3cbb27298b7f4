"""`/__admin/`: the test and simulator back door. Not part of the contract (and not validated
by it), but every input is checked (`inputs`) with the same precise problem+json errors as the
API. `client.AdminClient` is its one Python client.
"""
from __future__ import annotations

import hashlib
import json

from flask import Blueprint, current_app, request

from common.timestamps import format_rfc3339

from ..config import AGENT_PASSWORD
from ..oauth import STORE
from ..responses import json_response, problem
from ..state import MockState, current_state
from ..world.mutations import ENTITY_COLLECTIONS, MutationError, mutate
from ..world.churn import churn
from .inputs import AdminInputError, admin_body, churn_request, clock_request, int_arg, invalid, mutation_request

bp = Blueprint("admin", __name__, url_prefix="/__admin")


@bp.errorhandler(AdminInputError)
def bad_input(error: AdminInputError):
    return error.response()


@bp.errorhandler(MutationError)
def bad_mutation(error: MutationError):
    return problem(error.status, error.code, "Mutation refused", error.detail, error.errors)


@bp.get("/world")
def world():
    state = current_state()
    with state.lock:
        return json_response(world_summary(state))


@bp.get("/world/export")
def world_export():
    state = current_state()
    with state.lock:
        body = state.world.to_jsonable()
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return json_response({"sha256": hashlib.sha256(text.encode()).hexdigest(), "world": body})


@bp.get("/records/<entity>/<record_id>")
def record(entity: str, record_id: str):
    if entity not in ENTITY_COLLECTIONS.values():
        raise AdminInputError(404, "not_found", f"Unknown entity '{entity}'; one of "
                                                f"{', '.join(ENTITY_COLLECTIONS.values())}.")
    state = current_state()
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
    log = current_state().journal
    since, limit = int_arg("since", 0), int_arg("limit", None, 1)
    entries = log.since(since, limit, operation_id=request.args.get("operation_id"), path=request.args.get("path"))
    return json_response({"entries": entries, "last_seq": log.last_seq})


@bp.get("/inbound")
def inbound():
    log = current_state().inbound
    since, limit = int_arg("since", 0), int_arg("limit", None, 1)
    entries = log.since(since, limit, path=request.args.get("path"))
    return json_response({"entries": entries, "last_seq": log.last_seq})


@bp.post("/reset")
def reset():
    body = admin_body({"clock"})
    if "clock" in body and not isinstance(body["clock"], bool):
        raise invalid("clock must be a boolean.", [{"field": "clock", "message": "must be true or false"}])
    state = current_state()
    reset_everything(state, reset_clock=body.get("clock", False))
    return json_response({"status": "reset", "counts": counts(state)})


@bp.get("/clock")
def clock_get():
    return json_response(clock_view(current_state()))


@bp.post("/clock")
def clock_post():
    instant, advance, freeze = clock_request(admin_body({"set", "advance_seconds", "freeze"}))
    clock = current_state().clock
    if freeze is not None:
        clock.freeze(freeze)
    if instant is not None:
        clock.set(instant)
    if advance:
        clock.advance(advance)
    return json_response(clock_view(current_state()))


@bp.post("/mutate")
def mutate_view():
    state = current_state()
    body = admin_body({"account_id", "entity", "op", "id", "changes", "churn"})
    if "churn" in body:
        count, account_id = churn_request(state, body)
        changes = churn(state, count, account_id)
        return json_response({"changes": [{"event_type": c.event_type, "account_id": c.account_id,
                                           "id": c.record["id"], "updated_at": c.record["updated_at"]}
                                          for c in changes]})
    account_id, entity, op, record_id, changes = mutation_request(state, body)
    change = mutate(state, account_id, entity, op, record_id, changes)
    return json_response({"event_type": change.event_type, "account_id": change.account_id,
                          "record": change.record}, 201 if op == "create" else 200)


@bp.get("/faults")
def faults_get():
    return json_response(current_state().faults.describe())


@bp.post("/faults")
def faults_post():
    body = admin_body({"profile", "faults", "seed"})
    faults = current_state().faults
    try:
        faults.configure(body)
    except ValueError as error:
        raise invalid(str(error), getattr(error, "errors", None) or [{"field": "", "message": str(error)}]) from None
    return json_response(faults.describe())


# -- what the views answer -----------------------------------------------------------------------

def reset_everything(state: MockState, reset_clock: bool = False) -> None:
    state.reset()
    if reset_clock:
        state.clock.reset()
    store = current_app.extensions.get(STORE)
    if store is not None:
        store.reset()
    if state.ratelimiter is not None:
        state.ratelimiter.reset()
    if state.faults is not None:
        state.faults.reset()


def counts(state: MockState) -> dict:
    totals: dict[str, int] = {}
    for account in state.world.accounts.values():
        for entity, collection in account.collections.items():
            totals[entity] = totals.get(entity, 0) + collection.live
            totals[f"{entity}_deleted"] = totals.get(f"{entity}_deleted", 0) + len(collection) - collection.live
    return totals


def clock_view(state: MockState) -> dict:
    return {"now": state.now_text(), "frozen": state.clock.frozen}


def world_summary(state: MockState) -> dict:
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
        "epoch": format_rfc3339(state.config.epoch),
        "now": state.now_text(),
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
