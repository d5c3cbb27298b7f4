"""The contract as the kit reads it: operations and their scopes, examples, and validation of
what the server answers (openapi-core for HTTP responses, jsonschema for bodies the server
sends on its own, such as change notifications).

The file is the one given with `--contract` (the repository's `openapi/agentbuddy.yaml` by
default), so a partner can verify against the version of the contract they implement.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.validation.response.exceptions import HeaderValidationError

from .model import KitError
from .probe import Reply

METHODS = ("get", "post", "put", "patch", "delete")
#: Checked by their own check (`api.ratelimit.headers`), so a missing header fails that one only.
RATE_LIMIT_HEADERS = frozenset({"ratelimit", "ratelimit-policy"})


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # the contract's template under the server URL, e.g. /contacts/{id}
    scope: str | None  # x-required-scope; None: any valid token
    signed: bool  # authenticated by a Standard Webhooks signature instead of a bearer token
    example: Any  # the first request body example, if any


class ContractView:
    def __init__(self, spec: dict[str, Any], source: Path) -> None:
        self.spec = spec
        self.source = source
        self._openapi: dict[str, OpenAPI] = {}  # per API URL: building one takes about a second
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}

    @classmethod
    def load(cls, path: Path) -> "ContractView":
        if not path.is_file():
            raise KitError(f"The contract file {path} does not exist.")
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise KitError(f"The contract file {path} is not readable YAML ({type(error).__name__}).") from None
        if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3.") \
                or not isinstance(spec.get("paths"), dict):
            raise KitError(f"The contract file {path} is not an OpenAPI 3 document with paths.")
        return cls(spec, path)

    @property
    def version(self) -> str:
        return str((self.spec.get("info") or {}).get("version", "?"))

    def operations(self) -> list[Operation]:
        found = []
        for path, item in self.spec["paths"].items():
            for method in METHODS:
                operation = item.get(method)
                if not operation:
                    continue
                signed = any("webhookSignature" in requirement for requirement in operation.get("security", []))
                found.append(Operation(operation["operationId"], method.upper(), path,
                                       operation.get("x-required-scope"), signed, _first_example(operation)))
        return found

    def operation(self, operation_id: str) -> Operation:
        return next(op for op in self.operations() if op.operation_id == operation_id)

    def scopes(self) -> list[str]:
        flows = self.spec["components"]["securitySchemes"]["oauth2"]["flows"]
        return list(flows["authorizationCode"]["scopes"])

    def schema_errors(self, name: str, instance: Any) -> list[str]:
        """Where `instance` breaks `#/components/schemas/<name>` (empty when it conforms)."""
        validator = self._validators.get(name)
        if validator is None:
            schema = {"components": self.spec["components"], "$ref": f"#/components/schemas/{name}"}
            validator = self._validators[name] = jsonschema.Draft202012Validator(
                schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        return [f"{_where(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)]

    def response_errors(self, api_url: str, reply: Reply) -> list[str]:
        """Where an HTTP answer breaks the contract (status, media type, body, headers other
        than the rate-limit pair). `api_url` is the server's API base, ending in /v1."""
        openapi = self._openapi.get(api_url)
        if openapi is None:
            spec = copy.deepcopy(self.spec)
            spec["servers"] = [{"url": api_url}]
            config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
            openapi = self._openapi[api_url] = OpenAPI.from_dict(spec, config=config)
        request = RequestsOpenAPIRequest(reply.response.request)
        result = openapi.unmarshal_response(request, RequestsOpenAPIResponse(reply.response))
        messages = []
        for error in result.errors:
            if isinstance(error, HeaderValidationError) and getattr(error, "name", "").lower() in RATE_LIMIT_HEADERS:
                continue
            messages.extend(_describe(error))
        return messages


def _first_example(operation: dict) -> Any:
    content = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
    for example in (content.get("examples") or {}).values():
        if "value" in example:
            return example["value"]
    return content.get("example")


def _where(path) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "(body)"


def _describe(error: Exception) -> list[str]:
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None)
    if schema_errors:
        return [f"{_where(e.absolute_path)}: {e.message}" for e in schema_errors]
    text = str(error) or type(error).__name__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return [text]
