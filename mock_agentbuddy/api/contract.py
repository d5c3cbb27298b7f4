"""The contract as the fake enforces it: openapi-core loaded once, and its verdicts turned into
the precise field errors a client reads.

`ContractValidator` answers three questions for the request hooks and views in `validation`:
which contract operation is this (`operation_for`), what is wrong with this request
(`request_errors`), and what is wrong with this response (`response_errors`, strict mode).

Speed: a request the compiled gate (`request_gate`) vouches for is not handed to openapi-core at
all (its per-request parameter resolution was ~2 ms of a ~3 ms list request); any other request
is. openapi-core checks the request as a whole (path, method, parameters, headers, content
type, body) in validation mode, never unmarshalling; its schema validators are built once per
schema location with a compiled fast path for conforming values (`compiled_schemas`), so a
500-update batch or a 500-record page costs milliseconds. This module and `compiled_schemas`
are the whole of the request path's contract work.

Field names come from jsonschema's structured errors (`absolute_path`, `validator`,
`validator_value`, `instance`, `schema`), never from its English messages: a missing property is
named from `required` and the instance, unexpected ones from the schema's `properties` and
`patternProperties` — so every problem names the exact field, e.g. `/data/contact_id`.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from flask import g, has_request_context
from openapi_core import Config, OpenAPI
from openapi_core.casting.schemas import oas31_types_caster
from openapi_core.casting.schemas.factories import SchemaCastersFactory
from openapi_core.contrib.flask import FlaskOpenAPIRequest, FlaskOpenAPIResponse
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.validation.request.exceptions import (
    MissingRequestBodyError,
    ParameterValidationError,
    RequestBodyValidationError,
    SecurityValidationError,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

import contract
from contract import reader

from .compiled_schemas import CompiledSchemaValidators
from .request_gate import RequestGate

METHODS = ("get", "put", "post", "patch", "delete")
_TEMPLATE = re.compile(r"\{[^}]*\}|<(?:[^:>]+:)?[^>]+>")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # the contract's template, e.g. /contacts/{contact_id}
    query_params: frozenset[str]
    has_body: bool
    required_headers: frozenset[str] = frozenset()  # lower-case names

    def missing_headers(self, headers) -> list[str]:
        """Required headers the request lacks: such a request is malformed (400) whatever else holds."""
        return sorted(name for name in self.required_headers if name not in headers)


def _shape(path: str) -> str:
    """`/contacts/{id}` and Flask's `/contacts/<contact_id>` both become `/contacts/{}`."""
    return _TEMPLATE.sub("{}", path)


class ContractValidator:
    def __init__(self, spec_path: Path | None = None) -> None:
        path = Path(spec_path or contract.spec_path())
        self.openapi, self.operations, self.base, self.gate = _load(str(path), path.stat().st_mtime)

    def operation_for(self, method: str, rule: str | None) -> Operation | None:
        if rule is None:
            return None
        return self.operations.get((method, _shape(rule)))

    def request_errors(self, flask_request) -> tuple[int, list[dict]]:
        """(status, field errors) for a request; status 0 when it conforms."""
        operation = self.operation_for(flask_request.method, flask_request.url_rule.rule
                                       if flask_request.url_rule else None)
        if operation is not None and self.gate.accepts(flask_request, operation.path):
            return 0, []  # the compiled gate: certainly conforming, no need to ask openapi-core
        # Validation only: the views read the JSON themselves, and unmarshalling re-validated
        # every sub-object (x20 the cost of validating the body once).
        fields_400: list[dict] = []
        fields_422: list[dict] = []
        for error in self.openapi.iter_request_errors(_PathRequest(flask_request)):
            if isinstance(error, SecurityValidationError):
                continue
            if isinstance(error, PathError):
                return 0, []  # not a contract operation (the router answers 404/405 itself)
            if isinstance(error, MissingRequestBodyError):
                fields_400.append({"field": "/", "message": "a JSON request body is required"})
            elif isinstance(error, RequestBodyValidationError):
                fields_422.extend(schema_fields(error, prefix="", pointer=True))
            elif isinstance(error, ParameterValidationError):
                fields_400.extend(schema_fields(error, prefix=f"{error.location}.{error.name}"))
            else:
                fields_400.append({"field": "", "message": str(error)})
        if fields_400:
            return 400, fields_400 + fields_422
        if fields_422:
            return 422, fields_422
        return 0, []

    def response_errors(self, flask_request, response) -> list[dict]:
        fields = []
        for error in self.openapi.iter_response_errors(_PathRequest(flask_request), FlaskOpenAPIResponse(response)):
            fields.extend(schema_fields(error, prefix="response", pointer=True))
        return fields


# -- loading -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> tuple[OpenAPI, dict[tuple[str, str], Operation], str, RequestGate]:
    """Parse the contract once per file version: building an OpenAPI object is slow."""
    with open(path, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)  # our own copy: the security requirements are dropped below
    base = _base_path(spec)
    # Matching by path only (any host/port serves the fake), and authentication is the
    # OAuth guard's job, so the contract's server URLs and security requirements are dropped here.
    spec["servers"] = [{"url": base or "/"}]
    spec.pop("security", None)
    operations = _operations(spec, base)
    schema_validators = CompiledSchemaValidators(spec)
    config = Config(
        schema_validators_factory=schema_validators,
        # parameter casting asks for schema validators too (anyOf/oneOf): the same cached ones
        schema_casters_factory=SchemaCastersFactory(schema_validators, oas31_types_caster),
        extra_media_type_deserializers={"application/json": _json_parsed_once, "application/problem+json": _json_bytes},
        extra_format_validators={"uri-reference": _is_uri_reference},
        extra_format_unmarshallers={"uri-reference": str},
    )
    openapi = OpenAPI.from_dict(spec, config=config)
    _warm_body_validators(openapi)
    return openapi, operations, base, RequestGate(spec, base, schema_validators, openapi)


def _operations(spec: dict, base: str) -> dict[tuple[str, str], Operation]:
    """Every path operation by (METHOD, path shape); drops per-operation security (see `_load`)."""
    operations: dict[tuple[str, str], Operation] = {}
    for found in reader.operations(spec):
        if found.section != "paths" or found.method not in METHODS:
            continue
        operation = found.node
        operation.pop("security", None)
        shared = reader.resolve(spec, spec["paths"][found.key]).get("parameters", [])
        params = [reader.resolve(spec, p) for p in shared + operation.get("parameters", [])]
        queries = frozenset(p["name"] for p in params if p.get("in") == "query")
        headers = frozenset(p["name"].lower() for p in params if p.get("in") == "header" and p.get("required"))
        operations[(found.method.upper(), _shape(base + found.key))] = Operation(
            operation.get("operationId", f"{found.method} {found.key}"), found.method.upper(), found.key, queries,
            "requestBody" in operation, headers)
    return operations


def _warm_body_validators(openapi: OpenAPI) -> None:
    """Build every request and response body validator now, so the first batch or page a
    client sends is as fast as the rest (schema validators are cached per location)."""
    factory = openapi.config.schema_validators_factory
    for _, item in (openapi.spec / "paths").str_items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item / method
            bodies = [operation / "requestBody"] if "requestBody" in operation else []
            bodies += [response for _, response in (operation / "responses").str_items()]
            for body in bodies:
                if "content" not in body:
                    continue
                for _, media_type in (body / "content").str_items():
                    if "schema" in media_type:
                        factory.create(openapi.spec, media_type / "schema")


def _json_bytes(data):
    return json.loads(data)


def _json_parsed_once(data):
    """The request body as the precheck already parsed it (same bytes object), else a parse."""
    if has_request_context():
        parsed = g.get("json_body")
        if parsed is not None and parsed[0] is data:
            return parsed[1]
    return json.loads(data)


def _is_uri_reference(value) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        urlsplit(value)
    except ValueError:
        return False
    return True


def _base_path(spec: dict) -> str:
    servers = spec.get("servers") or [{"url": "/v1"}]
    return urlsplit(servers[0]["url"]).path.rstrip("/") or ""


class _PathRequest(FlaskOpenAPIRequest):
    """Matches by the concrete path, so our route variable names need not equal the contract's."""

    def __init__(self, flask_request) -> None:
        super().__init__(flask_request)
        self.parameters.path = {}

    @property
    def path_pattern(self) -> str:
        return self.path


# -- errors as fields --------------------------------------------------------------------------

def schema_fields(error: Exception, prefix: str, pointer: bool = False) -> list[dict]:
    """The field errors of an openapi-core error: one per offending value (or property).

    `pointer`: name fields as JSON Pointers into the body (`/data/contact_id`); otherwise as
    dotted names after `prefix` (`query.per_page`)."""
    cause = error.__cause__
    schema_errors = list(cause.schema_errors) if isinstance(cause, InvalidSchemaValue) else []
    if not schema_errors:
        message = str(cause) if cause is not None else str(error)
        return [{"field": prefix or ("/" if pointer else ""), "message": message}]
    fields: list[dict] = []
    for schema_error in schema_errors:
        for leaf in _leaves(schema_error):
            for parts, message in _offending(leaf):
                if pointer:
                    name = prefix + (reader.pointer_of(parts) or ("" if prefix else "/"))
                else:
                    name = ".".join([prefix] + parts) if prefix else ".".join(parts)
                field = {"field": name, "message": message}
                if field not in fields:  # several `required` errors of one object name the same set
                    fields.append(field)
    return fields


def _leaves(schema_error):
    """jsonschema nests the real reasons under oneOf/anyOf; report the most specific ones."""
    context = list(getattr(schema_error, "context", None) or [])
    if not context:
        return [schema_error]
    deepest = max(len(e.absolute_path) for e in context)
    return [e for e in context if len(e.absolute_path) == deepest] or [schema_error]


def _offending(schema_error) -> list[tuple[list[str], str]]:
    """(path of the offending value, message) pairs; for missing or unexpected properties, one
    pair per property, named from the error's structure."""
    parts = [str(p) for p in schema_error.absolute_path]
    instance = schema_error.instance
    if schema_error.validator == "required" and isinstance(instance, dict):
        missing = [name for name in schema_error.validator_value if name not in instance]
        return [(parts + [name], f"{name!r} is a required property") for name in missing]
    if schema_error.validator == "additionalProperties" and schema_error.validator_value is False \
            and isinstance(instance, dict) and isinstance(schema_error.schema, dict):
        extras = sorted(_additional_properties(instance, schema_error.schema), key=str)
        if extras:
            return [(parts + [str(name)], schema_error.message) for name in extras]
    # `unevaluatedProperties` (unused by the contract) and every other keyword: the value's own path.
    return [(parts, schema_error.message)]


def _additional_properties(instance: dict, schema: dict) -> list[str]:
    """Properties neither named by `properties` nor matched by `patternProperties` (JSON Schema §10.3.2.3)."""
    named = schema.get("properties") or {}
    patterns = list(schema.get("patternProperties") or {})
    return [name for name in instance if name not in named and not any(re.search(p, name) for p in patterns)]
