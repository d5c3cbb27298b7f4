"""openapi-core's schema checks, built once per schema location instead of once per request.

openapi-core creates a fresh jsonschema validator (and deep-copies its format checker) for every
parameter, header and body it checks, and its Python validator costs ~0.2 ms per batch update.
A 500-update batch or a 500-contact page then spends most of its time here. This factory keeps
openapi-core's exact validator (OAS 3.1 dialect, the same format checker plus the contract's
extra formats, the same `$ref` resolver) per schema location, and puts a compiled
`jsonschema_rs` validator of the same schema in front of it as a gate:

- the gate says valid -> the value is accepted without running the Python validator;
- the gate says invalid (or cannot judge the value) -> the Python validator runs and its errors,
  with their paths and messages, are what the client sees. If Python finds nothing, the value is
  valid: Python stays the authority on what is an error and on how it is reported.

The gate must therefore never accept what Python would refuse. It uses the Python format
checker's own functions for every format Python knows (so `date-time`, `email`, `uri`, ... mean
the same thing on both sides); the contract's patterns use only explicit ASCII classes, where
Rust's regex engine is at most stricter than Python's (`$` before a trailing newline).
`tests/mock/test_compiled_schemas.py` checks agreement on valid, invalid and mutated values.
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import jsonschema_rs
from jsonschema_path import SchemaPath
from openapi_core.validation.schemas.factories import DialectSchemaValidatorsFactory
from openapi_core.validation.schemas.validators import SchemaValidator
from openapi_schema_validator import OAS31_BASE_DIALECT_ID, OAS30ReadValidator, OAS31Validator

from contract import reader

log = logging.getLogger("mock_agentbuddy.compiled_schemas")

CONTRACT_URI = "urn:agentbuddy:contract"
_FRAGMENT_SAFE = "/~!$&'()*+,;=:@-._"  # a JSON pointer in a URI fragment percent-encodes the rest (RFC 6901 §6)


class GatedSchemaValidator(SchemaValidator):
    """openapi-core's SchemaValidator with a compiled fast path for values that conform."""

    def __init__(self, schema: SchemaPath, validator, gate=None) -> None:  # evolve() passes no gate
        super().__init__(schema, validator)
        self.gate = gate

    def validate(self, value: Any) -> None:
        if self.gate is not None:
            try:
                if self.gate.is_valid(value):
                    return
            except Exception:  # noqa: BLE001 - a value the gate cannot represent (huge ints): ask Python
                pass
        super().validate(value)


class CompiledSchemaValidators(DialectSchemaValidatorsFactory):
    """The OAS 3.1 schema validators factory openapi-core uses by default, cached per location.

    The format validators of one OpenAPI object never change, so a location identifies a
    validator. `spec` is the raw contract (a dict) the locations point into."""

    def __init__(self, spec: dict, gate: bool = True) -> None:
        # The same class, dialect and format checker as openapi_core's oas31_schema_validators_factory.
        super().__init__(OAS31Validator, OAS31_BASE_DIALECT_ID, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
        self.spec = spec
        self.use_gate = gate
        self._registry = jsonschema_rs.Registry([(CONTRACT_URI, spec)]) if gate else None
        self._validators: dict[tuple, GatedSchemaValidator] = {}
        self._formats: dict | None = None

    def create(self, spec: SchemaPath, schema: SchemaPath, format_validators=None, extra_format_validators=None,
               forbid_unspecified_additional_properties: bool = False,
               enforce_properties_required: bool = False) -> SchemaValidator:
        key = (tuple(schema.parts), forbid_unspecified_additional_properties, enforce_properties_required)
        cached = self._validators.get(key)
        if cached is None:
            built = super().create(spec, schema, format_validators, extra_format_validators,
                                   forbid_unspecified_additional_properties, enforce_properties_required)
            gate = None
            if self.use_gate and not (forbid_unspecified_additional_properties or enforce_properties_required):
                gate = self._gate(tuple(schema.parts), built.validator.format_checker)
            cached = self._validators[key] = GatedSchemaValidator(schema, built.validator, gate)
        return cached

    def _gate(self, parts: tuple, format_checker):
        try:
            pointer = reader.canonical_pointer(self.spec, parts)
        except reader.UnresolvableReference:
            pointer = None
        if pointer is None:
            return None
        if self._formats is None:  # every location's checker is a copy of the same configuration
            self._formats = {name: _format_function(format_checker, name) for name in format_checker.checkers}
        try:
            return jsonschema_rs.Draft202012Validator(
                {"$ref": f"{CONTRACT_URI}#{quote(pointer, safe=_FRAGMENT_SAFE)}"}, registry=self._registry,
                validate_formats=True, formats=self._formats, ignore_unknown_formats=True)
        except Exception as error:  # noqa: BLE001 - no gate is slower, never wrong
            log.warning("no compiled validator for %s: %s", pointer, error)
            return None


_MEMO_LIMIT = 100_000


def _format_function(format_checker, name: str):
    """The Python checker's verdict for a format, remembered per value (a page re-served in a
    sweep carries the same timestamps and emails again)."""
    memo: dict = {}

    def conforms(value) -> bool:
        if not isinstance(value, str):
            return format_checker.conforms(value, name)
        verdict = memo.get(value)
        if verdict is None:
            verdict = format_checker.conforms(value, name)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[value] = verdict
        return verdict

    return conforms
