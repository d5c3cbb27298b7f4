"""A compiled gate per contract operation: a conforming request is accepted in microseconds.

openapi-core resolves every parameter of the operation through its `$ref`-aware path accessors
on every request (~2 ms for a list of contacts, most of the fake's cost per request). Nothing of
that depends on the request: here each operation's parameters are resolved once, at load, into
(name, location, required, scalar type, compiled validator), and its request body into (media
types, compiled validator).

The gate only ever says "conforms" or "ask openapi-core": when it cannot tell (a value it does
not cast the way openapi-core does, a parameter given twice or empty, a content type with
parameters, a body the precheck did not parse, an operation with a parameter that is not a
plain scalar), or when anything fails, `ContractValidator` runs openapi-core's full request
validation, whose errors are what the client sees. So the gate must never accept a request
openapi-core refuses; it casts more narrowly than openapi-core (integers only as optional minus
and digits, booleans only as `true`/`false`) and checks with the same compiled schema
validators `compiled_schemas` gates openapi-core's own checks with.
`tests/mock/test_request_gate.py` holds the gate to openapi-core's verdicts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from flask import g

from contract import reader

from .compiled_schemas import CompiledSchemaValidators

_INTEGER = re.compile(r"-?[0-9]{1,18}")
_NUMBER = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,18})?")
_VARIABLE = re.compile(r"\{[^}/]+\}")
_UNSURE = object()  # a value the gate does not judge


def _cast_integer(text: str):
    return int(text) if _INTEGER.fullmatch(text) else _UNSURE


def _cast_number(text: str):
    return float(text) if _NUMBER.fullmatch(text) else _UNSURE


def _cast_boolean(text: str):
    return {"true": True, "false": False}.get(text, _UNSURE)


CASTS: dict[str, Callable[[str], Any]] = {"string": lambda text: text, "integer": _cast_integer,
                                           "number": _cast_number, "boolean": _cast_boolean}


@dataclass(frozen=True)
class _Param:
    name: str
    location: str  # query, header, path
    required: bool
    cast: Callable[[str], Any]
    gate: Any  # a compiled validator: `is_valid(value)`


@dataclass(frozen=True)
class OperationGate:
    method: str
    pattern: re.Pattern  # the concrete path, variables as named groups
    variables: tuple[str, ...]
    params: tuple[_Param, ...]
    body_types: frozenset[str]  # media types of the request body (empty: no body checked)
    body_required: bool
    body_gate: Any


class RequestGate:
    """Every operation of the contract that the gate can judge, by (METHOD, contract path)."""

    def __init__(self, spec: dict, base: str, schemas: CompiledSchemaValidators, openapi) -> None:
        self._by_key: dict[tuple[str, str], OperationGate] = {}
        self._siblings: dict[tuple[str, str], tuple[re.Pattern, ...]] = {}
        for found in reader.operations(spec):
            if found.section != "paths" or found.method not in ("get", "put", "post", "patch", "delete"):
                continue
            gate = _compile(spec, base, found, schemas, openapi)
            if gate is not None:
                self._by_key[(gate.method, found.key)] = gate
        patterns = [(found.method.upper(), _pattern(base, found.key)[0]) for found in reader.operations(spec)
                    if found.section == "paths"]
        for key, gate in self._by_key.items():
            # another template of the same method that a concrete path could also match: openapi-core
            # may pick that one, so such a path is left to it
            self._siblings[key] = tuple(p for method, p in patterns if method == gate.method and p != gate.pattern)

    def accepts(self, request, contract_path: str) -> bool:
        """True only when the request certainly conforms to the operation at `contract_path`."""
        key = (request.method, contract_path)
        gate = self._by_key.get(key)
        if gate is None:
            return False
        path = request.path
        matched = gate.pattern.fullmatch(path)
        if matched is None or any(p.fullmatch(path) for p in self._siblings[key]):
            return False
        args, headers = request.args, request.headers
        for param in gate.params:
            if param.location == "query":
                values = args.getlist(param.name)
                if len(values) > 1:
                    return False
                text = values[0] if values else None
            elif param.location == "header":
                text = headers.get(param.name)
            else:
                text = matched.group(gate.variables.index(param.name) + 1)
            if text is None:
                if param.required:
                    return False
                continue
            if text == "":
                return False
            value = param.cast(text)
            if value is _UNSURE or not _valid(param.gate, value):
                return False
        if gate.body_types:
            return _body_conforms(request, gate)
        return True


def _body_conforms(request, gate: OperationGate) -> bool:
    data = request.get_data(cache=True)
    if not data:
        return False  # missing or required: openapi-core says which
    if request.headers.get("Content-Type") not in gate.body_types:
        return False
    parsed = g.get("json_body")
    if parsed is None or parsed[0] is not data:
        return False
    return _valid(gate.body_gate, parsed[1])


def _valid(gate, value) -> bool:
    try:
        return gate.is_valid(value)
    except Exception:  # noqa: BLE001 - a value the compiled validator cannot represent: ask openapi-core
        return False


def _pattern(base: str, template: str) -> tuple[re.Pattern, tuple[str, ...]]:
    variables = tuple(name[1:-1] for name in _VARIABLE.findall(template))
    pieces = _VARIABLE.split(base + template)
    regex = "".join(re.escape(piece) + ("([^/]+)" if i < len(variables) else "") for i, piece in enumerate(pieces))
    return re.compile(regex), variables


def _compile(spec: dict, base: str, found, schemas: CompiledSchemaValidators, openapi) -> OperationGate | None:
    """The operation's gate, or None when a parameter or body is beyond what the gate judges."""
    operation = found.node
    path_item = reader.resolve(spec, spec["paths"][found.key])
    pattern, variables = _pattern(base, found.key)
    params: dict[tuple[str, str], _Param] = {}
    # operation parameters override path-item ones of the same (name, in), as openapi-core does
    listed = [("parameters", i, p) for i, p in enumerate(operation.get("parameters", []))]
    listed += [("path", i, p) for i, p in enumerate(path_item.get("parameters", []))]
    for origin, index, raw in listed:
        param = reader.resolve(spec, raw)
        name, location = param.get("name"), param.get("in")
        if (name, location) in params:
            continue
        if location not in ("query", "header", "path") or "content" in param or "schema" not in param \
                or param.get("allowEmptyValue") or param.get("style") not in (None, "form", "simple"):
            return None
        if location == "path" and name not in variables:
            return None
        schema = reader.resolve(spec, param["schema"])
        cast = CASTS.get(schema.get("type")) if isinstance(schema.get("type"), str) else None
        parts = (("paths", found.key, found.method, "parameters", index, "schema") if origin == "parameters"
                 else ("paths", found.key, "parameters", index, "schema"))
        gate = _schema_gate(schemas, openapi, parts)
        if cast is None or gate is None:
            return None
        params[(name, location)] = _Param(name, location, bool(param.get("required")), cast, gate)
    body_types: frozenset[str] = frozenset()
    body_required, body_gate = False, None
    if "requestBody" in operation:
        body = reader.resolve(spec, operation["requestBody"])
        content = body.get("content") or {}
        if any("*" in media_type or "schema" not in media for media_type, media in content.items()):
            return None
        if not all(media_type == "application/json" or media_type.endswith("+json") for media_type in content):
            return None
        gates = {_schema_gate(schemas, openapi, ("paths", found.key, found.method, "requestBody", "content",
                                                 media_type, "schema")) for media_type in content}
        if len(content) != 1 or None in gates:
            return None
        body_types, body_required, body_gate = frozenset(content), bool(body.get("required")), gates.pop()
    return OperationGate(found.method.upper(), pattern, variables, tuple(params.values()), body_types,
                         body_required, body_gate)


def _schema_gate(schemas: CompiledSchemaValidators, openapi, parts: tuple):
    """The compiled validator openapi-core's own check of this schema is gated with (cached per location)."""
    node = openapi.spec
    for part in parts:
        node = node / part
    return schemas.create(openapi.spec, node).gate
