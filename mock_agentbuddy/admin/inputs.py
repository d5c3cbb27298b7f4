"""Reading admin requests: every input checked, every mistake named, like the API's own errors.

The admin API is not part of the contract (nothing validates it for us), so its bodies and
query parameters are checked here by hand, each failure a problem+json naming the field.
"""
from __future__ import annotations

import json
from datetime import datetime

from flask import request

from common.timestamps import parse_rfc3339

from ..responses import problem
from ..state import MockState
from ..world.mutations import ENTITY_COLLECTIONS, OPS


class AdminInputError(ValueError):
    def __init__(self, status: int, code: str, detail: str, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors = status, code, detail, errors or []

    def response(self):
        return problem(self.status, self.code, "Invalid admin request", self.detail, self.errors)


def invalid(detail: str, errors: list[dict]) -> AdminInputError:
    return AdminInputError(422, "validation_failed", detail, errors)


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
        raise invalid("The body must be a JSON object.", [{"field": "", "message": "must be an object"}])
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise invalid("The body has unknown fields.",
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


def churn_request(state: MockState, body: dict) -> tuple[int, str | None]:
    """(count, account id or None) of `{"churn": {"count": n, "account_id"?}}`."""
    if set(body) != {"churn"}:
        raise invalid("churn cannot be combined with other fields.",
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
        raise invalid("The churn request is invalid.", errors)
    return spec["count"], spec.get("account_id")


def mutation_request(state: MockState, body: dict) -> tuple[str, str, str, str | None, dict | None]:
    """(account id, entity, op, record id, changes) of a mutate request; the account is found
    from the record when not given."""
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
        raise invalid("The mutation request is invalid.", errors)
    if account_id is None:
        account_id = _owner_account(state, ENTITY_COLLECTIONS[entity], record_id) if record_id else \
            next(iter(state.world.accounts))
    return account_id, entity, op, record_id, body.get("changes")


def clock_request(body: dict) -> tuple[datetime | None, float | None, bool | None]:
    """(instant to set or None, seconds to advance or None, freeze or None) of a clock request."""
    errors = []
    instant = None
    if "set" in body:
        try:
            instant = parse_rfc3339(body["set"])
        except ValueError as error:
            errors.append({"field": "set", "message": str(error)})
    advance = body.get("advance_seconds")
    if "advance_seconds" in body and (isinstance(advance, bool) or not isinstance(advance, (int, float))):
        errors.append({"field": "advance_seconds", "message": "must be a number of seconds"})
    if "freeze" in body and not isinstance(body["freeze"], bool):
        errors.append({"field": "freeze", "message": "must be true or false"})
    if errors:
        raise invalid("The clock request is invalid.", errors)
    return instant, advance, body.get("freeze")


def _owner_account(state: MockState, collection: str, record_id: str) -> str:
    with state.lock:
        for account in state.world.accounts.values():
            if account.collections[collection].get(record_id) is not None:
                return account.id
    raise AdminInputError(404, "not_found", f"No {collection[:-1] if collection != 'properties' else 'property'} "
                                            f"'{record_id}' in any account.",
                          [{"field": "id", "message": "unknown id"}])
