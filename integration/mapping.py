"""AgentBuddy records -> Broadcast rows: field mapping, validation and conflict rules, in one place.

Mapping. Each entity is a declaration (`EntityMapping`): which contract schema it follows and
which AgentBuddy field lands in which column, with what kind. Which fields are required comes
from the contract's `required` lists; which fields are private (`x-private: true`, e.g. a
contact's `notes`) comes from the contract too, and a private field can neither be mapped
(checked when this module loads) nor kept in a quarantined payload.

Validation (per record; a failing record is quarantined and the sync goes on):
* required fields present and non-null; types as declared (strings, integers, numbers,
  booleans, lists of ids/tags, objects);
* emails must look like `local@domain.tld`; timestamps must be RFC 3339 with a zone;
* contact `status` must be `active`/`archived`/null because Broadcast acts on it. Other enums
  (contact_type, role, property_type, listing_status) are stored as sent: a value AgentBuddy
  adds later must not stop a sync (tolerant reader).
* A tombstone (`deleted_at` set) only needs `id` and `updated_at`: a deletion is applied even
  when the rest of the record would not validate; invalid fields are stored as NULL.

Conflict rules (spec section 8), applied by `merge_contact` when a synced contact meets the
stored one:
1. AgentBuddy wins for demographics and CRM facts: name, email, phone, address, contact_type,
   office/agent, properties, custom_fields, and consent (`email_opt_in`).
2. Broadcast wins for email engagement: `email_status` (subscribed/unsubscribed/bounced/
   complained, set from provider events) is never written by a sync. A contact is emailable
   only if `email_opt_in` is true AND `email_status` is `subscribed` AND it is neither deleted
   nor archived (`is_emailable`).
3. Last write wins for fields both sides edit: `status` (active/archived) — Broadcast users can
   archive a contact, AgentBuddy can too. The stored `status_updated_at` is when the winning
   value was written. AgentBuddy's value is taken only when AgentBuddy changed it (it differs
   from `ab_status`, the last value AgentBuddy sent) and its record `updated_at` is not older
   than `status_updated_at`; an AgentBuddy edit of some other field does not undo a newer
   Broadcast archive.
4. Tags are merged as a union: `tags` = AgentBuddy's tags, then Broadcast-added `local_tags` not
   already present (case-insensitive), so neither side's tags are lost.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable

import contract

from integration.storage import format_ts, to_json

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
CONTACT_STATUSES = ("active", "archived")
EMAIL_STATUSES = ("subscribed", "unsubscribed", "bounced", "complained")


class MappingError(ValueError):
    pass


# ----------------------------------------------------------------------------- contract facts

@functools.lru_cache(maxsize=None)
def _schema(name: str) -> dict[str, Any]:
    schemas = contract.load_spec().get("components", {}).get("schemas", {})
    if name not in schemas:
        raise MappingError(f"the contract has no schema {name!r}")
    return schemas[name]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        return _schema(ref.rsplit("/", 1)[-1])
    for option in node.get("anyOf", ()):
        if option.get("type") != "null":
            return _resolve(option)
    return node


@functools.lru_cache(maxsize=None)
def private_fields(schema_name: str) -> frozenset[str]:
    """Dotted paths of fields marked `x-private: true` in a contract schema."""
    found: set[str] = set()

    def walk(node: dict[str, Any], prefix: str, depth: int) -> None:
        for name, prop in (node.get("properties") or {}).items():
            path = f"{prefix}{name}"
            if prop.get("x-private"):
                found.add(path)
            resolved = _resolve(prop)
            if depth < 3 and resolved is not prop and "properties" in resolved:
                walk(resolved, path + ".", depth + 1)

    walk(_schema(schema_name), "", 0)
    return frozenset(found)


def _required(schema_name: str, path: str) -> bool:
    node = _schema(schema_name)
    parts = path.split(".")
    for part in parts[:-1]:
        prop = (node.get("properties") or {}).get(part)
        if prop is None or part not in (node.get("required") or ()):
            return False
        node = _resolve(prop)
    return parts[-1] in (node.get("required") or ())


def public_payload(schema_name: str, record: Any) -> Any:
    """The record without private fields: what may be kept (quarantine) or logged."""
    if not isinstance(record, dict):
        return record
    private = private_fields(schema_name)
    out = {}
    for key, value in record.items():
        if key in private:
            continue
        if isinstance(value, dict):
            nested = {k: v for k, v in value.items() if f"{key}.{k}" not in private}
            out[key] = nested
        else:
            out[key] = value
    return out


# ----------------------------------------------------------------------------- kinds

class Invalid(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    if "\x00" in value:  # PostgreSQL TEXT cannot hold it; one such record must not stop a page
        raise Invalid("contains a NUL character")
    return value


def _nonempty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("must be a non-empty string")
    return _text(value)


def _email(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 254 or not EMAIL_RE.match(value):
        raise Invalid(f"is not a valid email address: {value!r}"[:200])
    return value.strip()


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("must be an integer")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid("must be a number")
    return float(value)


def _boolean(value: Any) -> int:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return int(value)


_UTC_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d{1,6}))?Z")


def _timestamp(value: Any) -> str:
    match = _UTC_TS.fullmatch(value) if isinstance(value, str) else None
    if match:  # AgentBuddy's usual shape (UTC, Z): pad the fraction, no datetime round trip
        return f"{value[:19]}.{(match.group(1) or '').ljust(6, '0')}Z"
    if not isinstance(value, str):
        raise Invalid("must be an RFC 3339 date-time string")
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise Invalid(f"is not an RFC 3339 date-time: {value!r}"[:200]) from None
    if parsed.tzinfo is None:
        raise Invalid("date-time must carry a zone (Z or an offset)")
    return format_ts(parsed)


def _date(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise Invalid("must be a date YYYY-MM-DD")
    return value


def _string_list(value: Any) -> str:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("must be a list of strings")
    return to_json(value)


def _tags(value: Any) -> str:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Invalid("must be a list of non-empty strings")
    return to_json(dedupe_tags(value))


def _object(value: Any) -> str:
    if not isinstance(value, dict):
        raise Invalid("must be an object")
    return to_json(value)


def _status(value: Any) -> str:
    if value not in CONTACT_STATUSES:
        raise Invalid(f"must be one of {', '.join(CONTACT_STATUSES)}")
    return value


KINDS: dict[str, Callable[[Any], Any]] = {
    "text": _text, "nonempty": _nonempty, "email": _email, "int": _integer, "number": _number,
    "bool": _boolean, "timestamp": _timestamp, "date": _date, "string_list": _string_list,
    "tags": _tags, "object": _object, "status": _status,
}
# What a column holds when AgentBuddy sends nothing (absent or null) for an optional field.
EMPTY: dict[str, Any] = {"string_list": "[]", "tags": "[]", "object": "{}"}


# ----------------------------------------------------------------------------- declarations

@dataclass(frozen=True)
class Field:
    column: str
    source: str  # dotted path in the AgentBuddy record
    kind: str
    default: Any = None  # stored when the value is absent (or invalid in a tombstone)


@dataclass(frozen=True)
class EntityMapping:
    entity: str
    schema: str
    fields: tuple[Field, ...]

    @functools.cached_property
    def compiled(self) -> tuple[tuple[str, tuple[str, ...], Callable[[Any], Any], bool, Any], ...]:
        out = []
        for f in self.fields:
            if f.kind not in KINDS:
                raise MappingError(f"{self.entity}.{f.column}: unknown kind {f.kind!r}")
            empty = f.default if f.default is not None else EMPTY.get(f.kind)
            out.append((f.column, tuple(f.source.split(".")), KINDS[f.kind], _required(self.schema, f.source), empty))
        return tuple(out)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.fields)

    def check_private(self) -> None:
        private = private_fields(self.schema)
        for f in self.fields:
            if f.source in private or f.source.split(".")[0] in private:
                raise MappingError(f"{self.entity}.{f.column} maps private field {f.source!r} (x-private)")


def _address(prefix: str = "address") -> tuple[Field, ...]:
    return tuple(Field(f"address_{part}", f"{prefix}.{part}", "text") for part in ("street", "city", "state", "zip"))


COMMON = (
    Field("id", "id", "nonempty"),
    Field("ab_created_at", "created_at", "timestamp"),
    Field("ab_updated_at", "updated_at", "timestamp"),
    Field("deleted_at", "deleted_at", "timestamp"),
)

OFFICES = EntityMapping("offices", "Office", COMMON + (
    Field("name", "name", "nonempty"),
    *_address(),
    Field("phone", "phone", "text"),
    Field("email", "email", "email"),
    Field("parent_office_id", "parent_office_id", "text"),
))

AGENTS = EntityMapping("agents", "Agent", COMMON + (
    Field("email", "email", "email"),
    Field("first_name", "first_name", "nonempty"),
    Field("last_name", "last_name", "nonempty"),
    Field("office_id", "office_id", "text"),
    Field("role", "role", "text"),
    Field("phone", "phone", "text"),
    Field("avatar_url", "avatar_url", "text"),
    Field("is_active", "is_active", "bool"),
))

CONTACTS = EntityMapping("contacts", "Contact", COMMON + (
    Field("email", "email", "email"),
    Field("first_name", "first_name", "nonempty"),
    Field("last_name", "last_name", "nonempty"),
    Field("phone", "phone", "text"),
    Field("contact_type", "contact_type", "text"),
    Field("office_id", "office_id", "text"),
    Field("agent_id", "agent_id", "text"),
    *_address(),
    Field("property_ids", "properties", "string_list"),
    Field("custom_fields", "custom_fields", "object"),
    Field("email_opt_in", "email_opt_in", "bool", default=0),  # no recorded consent means no consent
    Field("ab_tags", "tags", "tags"),
    Field("ab_status", "status", "status"),
))

PROPERTIES = EntityMapping("properties", "Property", COMMON + (
    *_address(),
    Field("property_type", "property_type", "text"),
    Field("bedrooms", "bedrooms", "int"),
    Field("bathrooms", "bathrooms", "number"),
    Field("square_feet", "square_feet", "int"),
    Field("estimated_value", "estimated_value", "number"),
    Field("owner_contact_id", "owner_contact_id", "text"),
    Field("listing_status", "listing_status", "text"),
    Field("last_sale_date", "last_sale_date", "date"),
    Field("last_sale_price", "last_sale_price", "number"),
))

MAPPINGS = {m.entity: m for m in (OFFICES, AGENTS, CONTACTS, PROPERTIES)}

# Columns a sync never writes on an existing contact: Broadcast owns them.
BROADCAST_OWNED = ("email_status", "email_status_updated_at", "local_tags", "local_updated_at")
# Columns derived by merge_contact (both sides contribute).
MERGED = ("tags", "status", "status_updated_at", "status_source")


def check_all_mappings() -> None:
    """Load-time guard: no mapping may touch a private field (needs the contract)."""
    for mapping in MAPPINGS.values():
        mapping.check_private()
        mapping.compiled  # unknown kinds fail here, not mid-sync


# ----------------------------------------------------------------------------- mapping a record

@dataclass(frozen=True)
class Mapped:
    row: dict[str, Any]
    errors: tuple[dict[str, str], ...]

    @property
    def valid(self) -> bool:
        return not self.errors


def map_record(mapping: EntityMapping, record: Any) -> Mapped:
    """Validate and map one AgentBuddy record. Tombstones only need id and updated_at."""
    if not isinstance(record, dict):
        return Mapped({}, ({"field": "", "message": "record is not an object"},))
    row: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    tombstone = record.get("deleted_at") is not None
    for column, path, convert, required, empty in mapping.compiled:
        if len(path) == 1:
            value: Any = record.get(path[0])
        else:
            value = record
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            if required and not (tombstone and column not in ("id", "ab_updated_at")):
                errors.append({"field": ".".join(path), "message": "is required"})
            row[column] = empty
            continue
        try:
            row[column] = convert(value)
        except Invalid as problem:
            row[column] = empty
            if not tombstone or column in ("id", "ab_updated_at", "deleted_at"):
                errors.append({"field": ".".join(path), "message": problem.message})
    return Mapped(row, tuple(errors))


# ----------------------------------------------------------------------------- conflict rules

def dedupe_tags(tags: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for tag in tags:
        key = tag.strip().casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(tag.strip())
    return out


def union_tags(ab_tags: list[str], local_tags: list[str]) -> list[str]:
    return dedupe_tags([*ab_tags, *local_tags])


def merge_contact(existing: dict[str, Any] | None, incoming: dict[str, Any]) -> dict[str, Any]:
    """The stored contact after a sync brings `incoming` (a mapped row); see the module rules."""
    import json

    merged = dict(incoming)
    ab_tags = json.loads(incoming["ab_tags"])
    if existing is None:
        merged.update(
            email_status="subscribed", email_status_updated_at=None, local_tags="[]", local_updated_at=None,
            tags=to_json(ab_tags), status=incoming["ab_status"],
            status_updated_at=incoming["ab_updated_at"] if incoming["ab_status"] is not None else None,
            status_source="agentbuddy" if incoming["ab_status"] is not None else None,
        )
        return merged
    for column in BROADCAST_OWNED:
        merged[column] = existing[column]
    merged["tags"] = to_json(union_tags(ab_tags, json.loads(existing["local_tags"] or "[]")))
    ab_changed = incoming["ab_status"] != existing["ab_status"]
    written_at = existing["status_updated_at"]
    if ab_changed and (written_at is None or incoming["ab_updated_at"] >= written_at):
        merged["status"] = incoming["ab_status"]
        merged["status_updated_at"] = incoming["ab_updated_at"]
        merged["status_source"] = "agentbuddy"
    else:
        merged["status"] = existing["status"]
        merged["status_updated_at"] = existing["status_updated_at"]
        merged["status_source"] = existing["status_source"]
    return merged


def is_emailable(contact: dict[str, Any]) -> bool:
    """Rule 2: consent from AgentBuddy AND a clean email status from Broadcast AND live."""
    return (
        bool(contact.get("email_opt_in"))
        and contact.get("email_status") == "subscribed"
        and contact.get("deleted_at") is None
        and contact.get("status") != "archived"
        and bool(contact.get("email"))
    )
