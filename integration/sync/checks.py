"""Is an AgentBuddy record valid? The contract's own JSON Schema says, field by field.

For each entity the checks are compiled from the contract (through `contract.reader`) into one
schema of the fields Broadcast maps, adjusted only where Broadcast deliberately reads more
tolerantly than AgentBuddy writes:

* enums are dropped except on `strict` fields (a value AgentBuddy adds later must not stop a
  sync; Broadcast stores it as sent);
* an email must look like `local@domain.tld` (Broadcast sends to it: a pattern stands in for the
  contract's lenient `format: email`); dates and date-times are checked (stored and compared);
  other formats (a URI) are stored as sent;
* presence (`required`) is not the schema's business here: `mapping` treats a missing and a
  null value alike, and a tombstone needs only its id and times.

The compiled validator (jsonschema-rs) answers "valid?" for every record of a page; only a
record that fails is checked again with Python's jsonschema, for errors that name the field.
"""
from __future__ import annotations

from typing import Any, Iterator

import jsonschema
import jsonschema_rs

import contract
from contract import reader

from .declarations import EntityMapping, contract_schema

# Broadcast sends to these addresses, so it asks more than "has an @": `local@domain.tld`.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"
CHECKED_FORMATS = ("date", "date-time")  # stored and compared; other formats are stored as sent
_FORMAT_CHECKER = jsonschema.FormatChecker(formats=CHECKED_FORMATS)


def _tolerant(node: Any, strict: bool) -> Any:
    """`node` with references inlined, enums dropped (unless `strict`) and unchecked formats removed."""
    node = reader.resolve(contract.load_spec(), node)
    if isinstance(node, list):
        return [_tolerant(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "enum" and not strict:
            continue
        if key == "format" and value == "email":
            out["pattern"] = EMAIL_PATTERN
            continue
        if key == "format" and value not in CHECKED_FORMATS:
            continue
        if key in ("description", "examples", "x-private", "required"):
            continue  # presence is `mapping`'s business (a null counts as absent)
        out[key] = _tolerant(value, strict) if isinstance(value, (dict, list)) else value
    return out


_COMPILED: dict[str, tuple[EntityMapping, Any, jsonschema.Draft202012Validator]] = {}


def _checks(mapping: EntityMapping) -> tuple[Any, jsonschema.Draft202012Validator]:
    """The entity's two validators, compiled once (keyed by entity: hashing a whole declaration
    on every record would cost more than validating it)."""
    cached = _COMPILED.get(mapping.entity)
    if cached is None or cached[0] is not mapping:
        cached = _COMPILED[mapping.entity] = (mapping, *_compile(mapping))
    return cached[1], cached[2]


def _compile(mapping: EntityMapping) -> tuple[Any, jsonschema.Draft202012Validator]:
    mapping.check()
    source = contract_schema(mapping.schema)
    strict = {f.path[0] for f in mapping.fields if f.strict}
    properties = {
        name: _tolerant(source["properties"][name], name in strict)
        for name in dict.fromkeys(f.path[0] for f in mapping.fields)
        if name in source.get("properties", {})
    }
    schema = {"type": "object", "properties": properties}
    fast = jsonschema_rs.Draft202012Validator(schema, validate_formats=True, ignore_unknown_formats=True)
    return fast, jsonschema.Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)


def valid_as_sent(mapping: EntityMapping, record: dict[str, Any]) -> bool:
    """True when the whole record passes as AgentBuddy sent it, nulls included: then its present
    fields pass too (the compiled schema only constrains properties, so leaving some out cannot
    break it), and the usual record is checked without building its present fields first."""
    return _checks(mapping)[0].is_valid(record)


def problems(mapping: EntityMapping, present: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """`(dotted field, message)` for each way the record's present (non-null) top-level fields
    break the contract; nothing for a valid record."""
    fast, full = _checks(mapping)
    if fast.is_valid(present):
        return
    for error in full.iter_errors(present):
        where = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "pattern" and error.validator_value == EMAIL_PATTERN:
            yield where, f"is not a valid email address: {error.instance!r}"[:200]
        else:
            yield where, error.message[:200]
