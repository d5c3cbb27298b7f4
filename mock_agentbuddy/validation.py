"""Every /v1 request checked against `openapi/agentbuddy.yaml`; with `strict`, every response too.

The fake is the contract's first enforcer: a request the contract forbids gets a precise
problem+json naming the failing field(s), and, in strict mode, a response the contract does
not allow becomes a loud 500 instead of silently teaching clients a wrong shape.

Order of checks: body size (413), content type (415) and JSON syntax (400) before anything
else, in `before_request`; parameters and body schema inside the view, after authentication
(401/403 first), through `validated`.

Speed: openapi-core checks the request as a whole (path, method, parameters, headers, content
type, body) in validation mode, never unmarshalling; its schema validators are built once per
schema location with a compiled fast path for conforming values (`compiled_schemas`), so a
500-update batch or a 500-record page costs milliseconds, and errors read exactly as before.
"""
from __future__ import annotations

import copy
import functools
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from flask import Flask, current_app, g, has_request_context, request
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

import contract

from .compiled_schemas import CompiledSchemaValidators
from .problems import problem

log = logging.getLogger("mock_agentbuddy.validation")

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


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> tuple[OpenAPI, dict[tuple[str, str], Operation], str]:
    """Parse the contract once per file version: building an OpenAPI object is slow."""
    with open(path, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    base = _base_path(spec)
    spec = copy.deepcopy(spec)
    # Matching by path only (any host/port serves the fake), and authentication is the
    # OAuth guard's job, so the contract's server URLs and security requirements are dropped here.
    spec["servers"] = [{"url": base or "/"}]
    spec.pop("security", None)
    operations: dict[tuple[str, str], Operation] = {}
    for template, item in (spec.get("paths") or {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            operation = item.get(method)
            if not operation:
                continue
            operation.pop("security", None)
            params = [_resolve(spec, p) for p in shared + operation.get("parameters", [])]
            queries = frozenset(p["name"] for p in params if p.get("in") == "query")
            headers = frozenset(p["name"].lower() for p in params if p.get("in") == "header" and p.get("required"))
            operations[(method.upper(), _shape(base + template))] = Operation(
                operation.get("operationId", f"{method} {template}"), method.upper(), template, queries,
                "requestBody" in operation, headers)
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
    return openapi, operations, base


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
    """The request body as `_body_precheck` already parsed it (same bytes object), else a parse."""
    if has_request_context():
        parsed = g.get("json_body")
        if parsed is not None and parsed[0] is data:
            return parsed[1]
    return json.loads(data)


def request_json():
    """The view's copy of the JSON body: a 1,000-update batch is parsed once, not three times."""
    parsed = g.get("json_body")
    if parsed is not None and parsed[0] is request.get_data(cache=True):
        return parsed[1]
    return request.get_json()


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


def _resolve(spec: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


class _PathRequest(FlaskOpenAPIRequest):
    """Matches by the concrete path, so our route variable names need not equal the contract's."""

    def __init__(self, flask_request) -> None:
        super().__init__(flask_request)
        self.parameters.path = {}

    @property
    def path_pattern(self) -> str:
        return self.path


class ContractValidator:
    def __init__(self, spec_path: Path | None = None) -> None:
        path = Path(spec_path or contract.spec_path())
        self.openapi, self.operations, self.base = _load(str(path), path.stat().st_mtime)

    def operation_for(self, method: str, rule: str | None) -> Operation | None:
        if rule is None:
            return None
        return self.operations.get((method, _shape(rule)))

    def request_errors(self, flask_request) -> tuple[int, list[dict]]:
        """(status, field errors) for a request; status 0 when it conforms."""
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
                fields_422.extend(_schema_fields(error, prefix="", pointer=True))
            elif isinstance(error, ParameterValidationError):
                fields_400.extend(_schema_fields(error, prefix=f"{error.location}.{error.name}", fallback=str(error)))
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
            fields.extend(_schema_fields(error, prefix="response", fallback=str(error), pointer=True))
        return fields


def _schema_fields(error: Exception, prefix: str, fallback: str | None = None,
                   pointer: bool = False) -> list[dict]:
    cause = error.__cause__
    schema_errors = list(getattr(cause, "schema_errors", None) or [])
    if not schema_errors:
        message = str(cause) if cause is not None else (fallback or str(error))
        return [{"field": prefix or ("/" if pointer else ""), "message": message}]
    fields = []
    for schema_error in schema_errors:
        for leaf, parts in ((leaf, parts) for leaf in _leaves(schema_error) for parts in _field_parts(leaf)):
            if pointer:
                name = prefix + ("/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
                                 if parts else ("" if prefix else "/"))
            else:
                name = ".".join([prefix] + parts) if prefix else ".".join(parts)
            fields.append({"field": name, "message": leaf.message})
    return fields


def _leaves(schema_error):
    """jsonschema nests the real reasons under oneOf/anyOf; report the most specific ones."""
    context = list(getattr(schema_error, "context", None) or [])
    if not context:
        return [schema_error]
    deepest = max(len(list(e.absolute_path)) for e in context)
    return [e for e in context if len(list(e.absolute_path)) == deepest] or [schema_error]


def _field_parts(schema_error) -> list[list[str]]:
    """Paths of the offending values; for missing or unexpected properties, one per property."""
    parts = [str(p) for p in getattr(schema_error, "absolute_path", [])]
    validator_name = getattr(schema_error, "validator", None)
    if validator_name == "required":
        match = re.match(r"'([^']+)' is a required property", schema_error.message)
        if match:
            return [parts + [match.group(1)]]
    elif validator_name in ("additionalProperties", "unevaluatedProperties"):
        match = re.search(r"\(([^)]*) (?:was|were) unexpected\)", schema_error.message)
        names = re.findall(r"'([^']+)'", match.group(1)) if match else []
        if names:
            return [parts + [name] for name in names]
    return [parts]


def validator() -> ContractValidator:
    return current_app.extensions["contract_validator"]


def validated(view):
    """Run the contract's parameter and body checks; unknown query parameters are refused."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        failure = check_request()
        return failure if failure is not None else view(*args, **kwargs)

    return checked


def check_request():
    contract_validator = validator()
    operation = contract_validator.operation_for(request.method, request.url_rule.rule if request.url_rule else None)
    if operation is None:
        g.verdict = {"request": "not_in_contract"}
        return None
    unknown = sorted(name for name in request.args if name not in operation.query_params)
    status, errors = contract_validator.request_errors(request)
    if unknown:
        allowed = ", ".join(sorted(operation.query_params)) or "none"
        errors = [{"field": f"query.{name}", "message": f"unknown query parameter; allowed: {allowed}"}
                  for name in unknown] + errors
        status = 400
    if not errors:
        g.verdict = {"request": "ok"}
        return None
    g.verdict = {"request": "failed", "errors": errors}
    if status == 422:
        return problem(422, "validation_failed", "Request body does not match the contract",
                       f"{len(errors)} field(s) failed validation: "
                       + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), errors)
    return problem(400, "invalid_request", "Invalid request",
                   "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors[:5]), errors)


BATCH_OPERATIONS = frozenset({"pushEngagementBulk", "receiveEngagementBatchWebhook"})


def body_limit(config, operation_id: str | None) -> int:
    """The contract's limits: 64 KiB for single-contact operations, 5 MiB for batches."""
    return config.max_batch_body_bytes if operation_id in BATCH_OPERATIONS else config.max_body_bytes


def _body_precheck(max_bytes: int):
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    length = request.content_length
    if length is not None and length > max_bytes:
        return _too_large(max_bytes)
    data = request.get_data(cache=True)  # MAX_CONTENT_LENGTH also guards chunked bodies
    if not data:
        return None
    if len(data) > max_bytes:  # sent without a Content-Length (chunked)
        return _too_large(max_bytes)
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        return problem(415, "unsupported_media_type", "Unsupported media type",
                       f"Send the body as application/json (got '{request.content_type or 'nothing'}').",
                       [{"field": "header.Content-Type", "message": "must be application/json"}])
    try:
        g.json_body = (data, json.loads(data))
    except (ValueError, UnicodeDecodeError) as error:
        return problem(400, "invalid_request", "Malformed JSON", f"The body is not valid JSON: {error}.",
                       [{"field": "/", "message": f"malformed JSON: {error}"}])
    return None


def _too_large(max_bytes: int):
    return problem(413, "payload_too_large", "Payload too large",
                   f"Request bodies are limited to {max_bytes} bytes.",
                   [{"field": "/", "message": f"larger than {max_bytes} bytes"}])


def init_validation(app: Flask, state) -> None:
    contract_validator = app.extensions.setdefault("contract_validator", ContractValidator())
    app.config["MAX_CONTENT_LENGTH"] = max(state.config.max_body_bytes, state.config.max_batch_body_bytes)

    @app.before_request
    def identify_and_precheck():
        rule = request.url_rule.rule if request.url_rule else None
        operation = contract_validator.operation_for(request.method, rule)
        g.operation_id = operation.operation_id if operation else None
        g.missing_headers = operation.missing_headers(request.headers) if operation else []
        if not request.path.startswith("/v1/"):
            return None
        failure = _body_precheck(body_limit(state.config, g.operation_id))
        if failure is not None:
            g.verdict = {"request": "failed", "errors": json.loads(failure.get_data()).get("errors", [])}
        return failure



def init_strict_responses(app: Flask, state) -> None:
    """Registered before the hooks that add headers, so it runs after them (Flask runs
    after_request functions in reverse order) and sees the response as the client will."""
    contract_validator = app.extensions.setdefault("contract_validator", ContractValidator())
    if not state.config.strict:
        return

    @app.after_request
    def check_response(response):
        if not request.path.startswith("/v1/") or g.get("operation_id") is None or g.get("fault"):
            return response
        errors = contract_validator.response_errors(request, response)
        verdict = g.get("verdict") or {"request": "not_validated"}
        if not errors:
            g.verdict = {**verdict, "response": "ok"}
            return response
        g.verdict = {**verdict, "response": "failed", "response_errors": errors}
        log.error("STRICT: %s %s -> %s violates the contract: %s", request.method, request.path,
                  response.status_code, errors)
        return problem(500, "internal_error", "Response violates the contract",
                       f"The fake produced a {response.status_code} response for {g.operation_id} "
                       "that the contract does not allow (strict mode).", errors)
