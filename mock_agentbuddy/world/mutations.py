"""Changes to the world after seeding: admin `mutate` requests (and, through them, churn).

Each change stamps `updated_at` from the clock (see `MockState.next_stamp`), moves the record
to the end of the sweep order and announces it to change-notification subscribers. Deletes
are soft: the record stays, as a tombstone with `deleted_at` set.

Two checks guard a change: the editable fields and their values (`EDITABLE`, so an admin
request gets an error per field), then the whole changed record against the contract's own
schema (so the fake never serves what its contract forbids).
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

import jsonschema

import contract
from contract import reader

from common.timestamps import format_us


ENTITY_COLLECTIONS = {"contact": "contacts", "office": "offices", "agent": "agents", "property": "properties"}
CONTRACT_SCHEMAS = {"contact": "Contact", "office": "Office", "agent": "Agent", "property": "Property"}
OPS = ("create", "update", "delete")


class MutationError(ValueError):
    def __init__(self, status: int, code: str, detail: str, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors = status, code, detail, errors or []


@dataclass(frozen=True)
class Change:
    account_id: str
    entity: str
    event_type: str  # e.g. contact.updated
    record: dict


# -- field validators: return an error message, or None when the value is acceptable --------
Check = Callable[[Any, dict, str], "str | None"]


def _text(value, *_):
    return None if isinstance(value, str) and value.strip() else "must be a non-empty string"


def _optional_text(value, *_):
    return None if value is None or isinstance(value, str) else "must be a string or null"


def _email(value, *_):
    return None if isinstance(value, str) and value.count("@") == 1 and "." in value.split("@")[1] \
        else "must be an email address"


def _bool(value, *_):
    return None if isinstance(value, bool) else "must be true or false"


def _int(low: int, high: int | None = None) -> Check:
    def check(value, *_):
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            return f"must be an integer >= {low}" + (f" and <= {high}" if high is not None else "")
        return None
    return check


def _optional(check: Check) -> Check:
    return lambda value, *rest: None if value is None else check(value, *rest)


def _number(value, *_):
    return None if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 \
        else "must be a non-negative number"


def _enum(*allowed: str) -> Check:
    return lambda value, *_: None if value in allowed else f"must be one of {', '.join(allowed)}"


def _strings(value, *_):
    return None if isinstance(value, list) and all(isinstance(v, str) for v in value) else "must be a list of strings"


def _object(value, *_):
    return None if isinstance(value, dict) else "must be a JSON object"


def _address(value, *_):
    if not isinstance(value, dict):
        return "must be an object with street, city, state, zip"
    unknown = set(value) - {"street", "city", "state", "zip"}
    if unknown:
        return f"unknown address field(s): {', '.join(sorted(unknown))}"
    if any(not isinstance(v, str) for v in value.values()):
        return "address fields must be strings"
    return None


def _date(value, *_):
    try:
        date.fromisoformat(value)
        return None
    except (TypeError, ValueError):
        return "must be a date like 2024-05-31"


def _ref(entity: str, optional: bool = True) -> Check:
    def check(value, collections: dict, _field: str):
        if value is None:
            return None if optional else "must not be null"
        if not isinstance(value, str) or collections[ENTITY_COLLECTIONS[entity]].get(value) is None:
            return f"must be the id of a {entity} in this account"
        return None
    return check


EDITABLE: dict[str, dict[str, Check]] = {
    "contact": {
        "email": _email, "first_name": _text, "last_name": _text, "phone": _optional_text,
        "contact_type": _enum("buyer", "seller", "owner", "lead"), "office_id": _ref("office"),
        "agent_id": _ref("agent"), "address": _optional(_address), "tags": _strings,
        "custom_fields": _object, "status": _enum("active", "archived"), "email_opt_in": _bool,
        "notes": _optional_text,
    },
    "office": {
        "name": _text, "address": _optional(_address), "phone": _optional_text, "email": _optional(_email),
        "parent_office_id": _ref("office"),
    },
    "agent": {
        "email": _email, "first_name": _text, "last_name": _text, "office_id": _ref("office"),
        "role": _enum("agent", "admin", "broker"), "phone": _optional_text, "avatar_url": _optional_text,
        "is_active": _bool,
    },
    "property": {
        "address": _address, "property_type": _enum("residential", "condo", "multi_family", "commercial", "land"),
        "bedrooms": _optional(_int(0, 50)), "bathrooms": _optional(_number), "square_feet": _optional(_int(0)),
        "estimated_value": _optional(_number), "owner_contact_id": _ref("contact"),
        "listing_status": _enum("active", "pending", "sold", "off_market"),
        "last_sale_date": _optional(_date), "last_sale_price": _optional(_number),
    },
}


def validate_changes(entity: str, changes: Any, collections: dict) -> list[dict]:
    if not isinstance(changes, dict):
        return [{"field": "changes", "message": "must be a JSON object of field -> new value"}]
    errors = []
    allowed = EDITABLE[entity]
    for name, value in changes.items():
        check = allowed.get(name)
        if check is None:
            errors.append({"field": f"changes.{name}", "message":
                           f"not an editable {entity} field; editable: {', '.join(sorted(allowed))}"})
            continue
        message = check(value, collections, name)
        if message:
            errors.append({"field": f"changes.{name}", "message": message})
    return errors


@functools.lru_cache(maxsize=8)
def _contract_validator(entity: str) -> jsonschema.Draft202012Validator:
    spec = contract.load_spec()
    name = CONTRACT_SCHEMAS[entity]
    reader.schema(spec, name)  # fails loudly if the contract renamed the schema
    # The schema's own `$ref`s point into `components`: jsonschema follows them within this root.
    root = {"components": spec["components"], "$ref": "#" + reader.pointer_of(("components", "schemas", name))}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def contract_errors(entity: str, record: dict) -> list[dict]:
    """The changed record must still be one the contract allows (the fake never serves what
    its own contract forbids, e.g. an upper-case custom field name)."""
    errors = []
    for error in _contract_validator(entity).iter_errors(record):
        path = ".".join(str(p) for p in error.absolute_path)
        errors.append({"field": f"changes.{path}" if path else "changes", "message": error.message})
    return errors


def mutate(state, account_id: str, entity: str, op: str, record_id: str | None = None,
           changes: dict | None = None) -> Change:
    """Apply one change atomically: everything is checked before anything is written."""
    with state.lock:
        account = state.world.account(account_id)
        if account is None:
            raise MutationError(404, "not_found", f"No account '{account_id}'.",
                                [{"field": "account_id", "message": "unknown account"}])
        collections = account.collections
        collection = collections[ENTITY_COLLECTIONS[entity]]
        errors = validate_changes(entity, changes if changes is not None else {}, collections)
        if errors:
            raise MutationError(422, "validation_failed", "The changes do not fit the record.", errors)
        changes = copy.deepcopy(changes or {})
        if op == "create":
            record = _generate(state, account_id, entity)
            record["deleted_at"] = None  # the seeding generator makes 1% tombstones; a created record is live
        else:
            current = collection.get(record_id) if isinstance(record_id, str) else None
            if current is None:
                raise MutationError(404, "not_found", f"No {entity} '{record_id}' in account {account_id}.",
                                    [{"field": "id", "message": "unknown id"}])
            if current.get("deleted_at") is not None:
                raise MutationError(409, "already_deleted", f"{entity} '{record_id}' is deleted (a tombstone).")
            record = copy.deepcopy(current)
        record.update(changes)
        errors = contract_errors(entity, record)
        if errors:
            raise MutationError(422, "validation_failed", "The changed record would break the contract.", errors)
        stamp = state.next_stamp()
        record["updated_at"] = format_us(stamp)
        if op == "create":
            record["created_at"] = record["updated_at"]
        if op == "delete":
            record["deleted_at"] = record["updated_at"]
        collection.put(record, stamp)
        if entity == "property" and op == "create" and record.get("owner_contact_id"):
            _link_property(state, collections, record)
        change = Change(account_id, entity, f"{entity}.{op}d", record)
    if state.notifier is not None:
        state.notifier.announce(change)
    return change


def _link_property(state, collections, prop: dict) -> None:
    """A new property appears in its owner's `properties` (the owner changes too)."""
    contacts = collections["contacts"]
    owner = contacts.get(prop["owner_contact_id"])
    if owner is None or prop["id"] in owner["properties"]:
        return
    owner = copy.deepcopy(owner)
    owner["properties"].append(prop["id"])
    stamp = state.next_stamp()
    owner["updated_at"] = format_us(stamp)
    contacts.put(owner, stamp)


def _generate(state, account_id: str, entity: str) -> dict:
    world = state.world
    builder, market = world.builder, world.markets[account_id]
    collections = world.accounts[account_id].collections
    live = lambda name: [r for r in collections[name].records.values() if r.get("deleted_at") is None]
    if entity == "contact":
        return builder.contact(market, live("agents") or list(collections["agents"].records.values()))[1]
    if entity == "agent":
        offices = live("offices") or list(collections["offices"].records.values())
        return builder.agent(world.accounts[account_id], market, builder.pick(offices)["id"], "agent")[1]
    if entity == "office":
        offices = live("offices")
        head = next((o for o in offices if o["parent_office_id"] is None), None)
        number = len(collections["offices"])
        return builder.office(world.accounts[account_id], market, number, head["id"] if head else None,
                              f"Branch {number + 1}")[1]
    owners = [c for c in live("contacts") if c["contact_type"] in ("owner", "seller")] or live("contacts")
    if not owners:
        raise MutationError(409, "no_owner", "A property needs an owner contact; this account has none.")
    return builder.property(market, builder.pick(owners))[1]
