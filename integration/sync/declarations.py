"""Which AgentBuddy field lands in which Broadcast column: the four entities, declared as data.

Each entity is an `EntityMapping`: the contract schema it follows and its fields, each a
`Field(column, source, kind)` where `source` is the dotted path in the AgentBuddy record and
`kind` says how a (valid) value is stored (`mapping.CONVERT`). What is valid is not declared
here: it is the contract's own JSON Schema (`checks`). What is required comes from the
contract's `required` lists, and what is private (`x-private: true`, e.g. a contact's `notes`)
from its flags: a private field can neither be mapped (checked when the declarations load)
nor kept in a quarantined payload.

Tolerant reader: enums AgentBuddy may extend (contact_type, role, property_type,
listing_status) are stored as sent; only a field declared `strict` keeps the contract's enum,
because Broadcast acts on its value (a contact's `status`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import contract
from contract import reader

KINDS = ("text", "email", "int", "number", "bool", "timestamp", "date", "string_list", "tags", "object", "status")
# What a column holds when AgentBuddy sends nothing (absent or null) for an optional field.
EMPTY: dict[str, Any] = {"string_list": "[]", "tags": "[]", "object": "{}"}


class MappingError(ValueError):
    """A declaration the contract does not allow (an unknown kind, a private field)."""


@dataclass(frozen=True)
class Field:
    column: str
    source: str  # dotted path in the AgentBuddy record
    kind: str
    default: Any = None  # stored when the value is absent (or invalid in a tombstone)
    strict: bool = False  # keep the contract's enum (Broadcast acts on the value)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.source.split("."))

    @property
    def empty(self) -> Any:
        return self.default if self.default is not None else EMPTY.get(self.kind)


@dataclass(frozen=True)
class EntityMapping:
    entity: str
    schema: str
    fields: tuple[Field, ...]

    @functools.cached_property  # read for every record of a page
    def columns(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.fields)

    def required(self, f: Field) -> bool:
        return is_required(self.schema, f.source)

    def check(self) -> None:
        """Load-time guard: every kind is known and no field is private (needs the contract)."""
        private = private_fields(self.schema)
        for f in self.fields:
            if f.kind not in KINDS:
                raise MappingError(f"{self.entity}.{f.column}: unknown kind {f.kind!r}")
            if f.source in private or f.source.split(".")[0] in private:
                raise MappingError(f"{self.entity}.{f.column} maps private field {f.source!r} (x-private)")


# ----------------------------------------------------------------------------- contract facts

@functools.lru_cache(maxsize=None)
def contract_schema(name: str) -> dict[str, Any]:
    return reader.schema(contract.load_spec(), name)


def _property(node: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A property's schema, references followed and a nullable `anyOf` reduced to its non-null part."""
    prop = (node.get("properties") or {}).get(name)
    if prop is None:
        return None
    prop = reader.resolve(contract.load_spec(), prop)
    for option in prop.get("anyOf", ()):
        option = reader.resolve(contract.load_spec(), option)
        if option.get("type") != "null":
            return option
    return prop


@functools.lru_cache(maxsize=None)
def private_fields(schema_name: str) -> frozenset[str]:
    """Dotted paths of fields marked `x-private: true` in a contract schema."""
    found: set[str] = set()

    def walk(node: dict[str, Any], prefix: str, depth: int) -> None:
        for name, prop in (node.get("properties") or {}).items():
            if prop.get("x-private"):
                found.add(prefix + name)
            nested = _property(node, name)
            if depth < 3 and nested is not None and "properties" in nested:
                walk(nested, prefix + name + ".", depth + 1)

    walk(contract_schema(schema_name), "", 0)
    return frozenset(found)


@functools.lru_cache(maxsize=None)
def is_required(schema_name: str, source: str) -> bool:
    """Whether the contract requires the field at `source` (every step of the path required)."""
    node: dict[str, Any] | None = contract_schema(schema_name)
    parts = source.split(".")
    for part in parts[:-1]:
        if part not in (node.get("required") or ()):
            return False
        node = _property(node, part)
        if node is None:
            return False
    return parts[-1] in (node.get("required") or ())


# ----------------------------------------------------------------------------- the four entities

def _address(prefix: str = "address") -> tuple[Field, ...]:
    return tuple(Field(f"address_{part}", f"{prefix}.{part}", "text") for part in ("street", "city", "state", "zip"))


COMMON = (
    Field("id", "id", "text"),
    Field("ab_created_at", "created_at", "timestamp"),
    Field("ab_updated_at", "updated_at", "timestamp"),
    Field("deleted_at", "deleted_at", "timestamp"),
)

OFFICES = EntityMapping("offices", "Office", COMMON + (
    Field("name", "name", "text"),
    *_address(),
    Field("phone", "phone", "text"),
    Field("email", "email", "email"),
    Field("parent_office_id", "parent_office_id", "text"),
))

AGENTS = EntityMapping("agents", "Agent", COMMON + (
    Field("email", "email", "email"),
    Field("first_name", "first_name", "text"),
    Field("last_name", "last_name", "text"),
    Field("office_id", "office_id", "text"),
    Field("role", "role", "text"),
    Field("phone", "phone", "text"),
    Field("avatar_url", "avatar_url", "text"),
    Field("is_active", "is_active", "bool"),
))

CONTACTS = EntityMapping("contacts", "Contact", COMMON + (
    Field("email", "email", "email"),
    Field("first_name", "first_name", "text"),
    Field("last_name", "last_name", "text"),
    Field("phone", "phone", "text"),
    Field("contact_type", "contact_type", "text"),
    Field("office_id", "office_id", "text"),
    Field("agent_id", "agent_id", "text"),
    *_address(),
    Field("property_ids", "properties", "string_list"),
    Field("custom_fields", "custom_fields", "object"),
    Field("email_opt_in", "email_opt_in", "bool", default=0),  # no recorded consent means no consent
    Field("ab_tags", "tags", "tags"),
    Field("ab_status", "status", "status", strict=True),
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


def check_all_mappings() -> None:
    for mapping in MAPPINGS.values():
        mapping.check()
