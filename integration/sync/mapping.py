"""One AgentBuddy record -> one Broadcast row: check it against the contract, convert each field.

A record that breaks the contract (`checks`) or misses a required field is not stored: its
errors travel back with it and the sync quarantines it. A tombstone (`deleted_at` set) only
needs `id` and `updated_at`: a deletion is applied even when the rest of the record would not
validate, with its invalid fields stored empty.

Conversion is storage, not validation: booleans become 0/1, lists and objects canonical JSON
text, timestamps the one stored shape. The one refusal here is a NUL character in text, which
the contract allows and PostgreSQL cannot store.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from common.timestamps import parse_rfc3339
from integration.storage import format_ts, to_json

from .checks import problems, valid_as_sent
from .conflicts import dedupe_tags
from .declarations import EntityMapping, private_fields

TOMBSTONE_FIELDS = ("id", "ab_updated_at", "deleted_at")
_UTC_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d{1,6}))?Z")


class Unstorable(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _text(value: str) -> str:
    if "\x00" in value:  # PostgreSQL TEXT cannot hold it; one such record must not stop a page
        raise Unstorable("contains a NUL character")
    return value


def _timestamp(value: str) -> str:
    match = _UTC_TS.fullmatch(value)
    if match:  # AgentBuddy's usual shape (UTC, Z): pad the fraction, no datetime round trip
        return f"{value[:19]}.{(match.group(1) or '').ljust(6, '0')}Z"
    return format_ts(parse_rfc3339(value))


CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "email": lambda value: _text(value).strip(),
    "int": int,
    "number": float,
    "bool": int,
    "timestamp": _timestamp,
    "date": str,
    "string_list": to_json,
    "tags": lambda value: to_json(dedupe_tags(value)),
    "object": to_json,
    "status": str,
}


@dataclass(frozen=True)
class Mapped:
    row: dict[str, Any]
    errors: tuple[dict[str, str], ...]

    @property
    def valid(self) -> bool:
        return not self.errors


# (column, source, top-level name, nested name or None, convert, required, empty, needed by a
# tombstone) per field, and the top-level names the entity reads; per entity.
_Step = tuple[str, str, str, str | None, Callable[[Any], Any], bool, Any, bool]
_PLANS: dict[str, tuple[EntityMapping, tuple[_Step, ...], tuple[str, ...]]] = {}


def _plan(mapping: EntityMapping) -> tuple[tuple[_Step, ...], tuple[str, ...]]:
    cached = _PLANS.get(mapping.entity)
    if cached is None or cached[0] is not mapping:
        if any(len(f.path) > 2 for f in mapping.fields):
            raise ValueError(f"{mapping.entity}: fields are at most one level deep")
        steps = tuple((f.column, f.source, f.path[0], f.path[1] if len(f.path) > 1 else None, CONVERT[f.kind],
                       mapping.required(f), f.empty, f.column in TOMBSTONE_FIELDS) for f in mapping.fields)
        cached = _PLANS[mapping.entity] = (mapping, steps, tuple(dict.fromkeys(f.path[0] for f in mapping.fields)))
    return cached[1], cached[2]


def map_record(mapping: EntityMapping, record: Any) -> Mapped:
    """Validate and map one AgentBuddy record (see the module rules)."""
    if not isinstance(record, dict):
        return Mapped({}, ({"field": "", "message": "record is not an object"},))
    tombstone = record.get("deleted_at") is not None
    steps, names = _plan(mapping)
    broken = {} if valid_as_sent(mapping, record) else dict(
        problems(mapping, {name: record[name] for name in names if record.get(name) is not None}))
    row: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for column, source, top, nested, convert, required, empty, needed in steps:
        counts = needed or not tombstone
        value = record.get(top)
        if nested is not None:
            value = value.get(nested) if isinstance(value, dict) else None
        if value is None:
            if counts and required:
                errors.append({"field": source, "message": "is required"})
            row[column] = empty
            continue
        problem = None
        if broken:
            problem = next((message for where, message in broken.items()
                            if where == source or source.startswith(where + ".") or not where), None)
        if problem is None:
            try:
                row[column] = convert(value)
                continue
            except Unstorable as unstorable:
                problem = unstorable.message
        row[column] = empty
        if counts:
            errors.append({"field": source, "message": problem})
    return Mapped(row, tuple(errors))


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
            out[key] = {k: v for k, v in value.items() if f"{key}.{k}" not in private}
        else:
            out[key] = value
    return out
