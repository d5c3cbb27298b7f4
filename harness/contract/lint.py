"""`ab-harness lint`: is the contract valid OpenAPI, and does it keep the project's promises?

openapi-spec-validator only proves the document is well-formed. Both teams also rely on rules the
standard does not enforce: every operation can be named (operationId), every API operation says
how it fails (a 429 and a 5xx problem), reports its rate limit, and is protected; and every
example is a true sample of its schema, because the examples are the sample responses we hand to
AgentBuddy. Each rule is a function `(spec) -> list[Finding]` so tests can call them one by one.
Spectral and Redocly (installed from npm by the project) add the community rulesets; their errors and
warnings are findings too. Kept whole: the rules share one walker of the document, and splitting them would scatter it.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import jsonschema
import yaml
from openapi_spec_validator.shortcuts import get_validator_cls
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from contract import spec_path
from contract.reader import Operation, escape, resolve
from contract.reader import operations as iter_operations
from harness.contract import node_tools

Spec = dict[str, Any]
RATE_LIMIT_HEADERS = ("RateLimit-Policy", "RateLimit")
PROBLEM_MEDIA_TYPE = "application/problem+json"
SPEC_URI = "urn:agentbuddy:openapi"
# Schemes that authenticate a caller of the API (as opposed to a signed webhook sender).
API_SCHEMES = frozenset({"oauth2", "bearerAuth"})


@dataclass(frozen=True)
class Finding:
    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.message}"


def load_spec(path: Path) -> Spec:
    with Path(path).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _security(spec: Spec, op: Operation) -> list[dict[str, list[str]]]:
    return op.node.get("security", spec.get("security", [])) or []


def is_api_operation(spec: Spec, op: Operation) -> bool:
    """An operation a token holder calls (rate limited, scoped), as opposed to a signed webhook."""
    return op.section == "paths" and any(set(req) & API_SCHEMES for req in _security(spec, op))


# --------------------------------------------------------------------------------------- rules
def check_openapi(spec: Spec) -> list[Finding]:
    validator = get_validator_cls(spec)(spec, base_uri=SPEC_URI)
    findings = []
    errors = validator.iter_errors()
    while True:
        try:
            err = next(errors)
        except StopIteration:
            break
        except Exception as exc:  # the validator's own walk can crash on a broken document
            if not findings:
                findings.append(Finding("openapi", "/", f"document is not valid OpenAPI ({exc!r})"))
            break
        findings.append(Finding("openapi", "/" + "/".join(map(str, getattr(err, "path", []))), err.message))
    return findings


def check_operation_ids(spec: Spec) -> list[Finding]:
    findings, seen = [], {}
    for op in iter_operations(spec):
        op_id = op.node.get("operationId")
        if not op_id:
            findings.append(Finding("operation-id", op.label, "no operationId"))
        elif op_id in seen:
            findings.append(Finding("operation-id", op.label, f"operationId {op_id!r} already used by {seen[op_id]}"))
        else:
            seen[op_id] = op.label
    by_id = {op.node["operationId"]: op for op in iter_operations(spec) if op.node.get("operationId")}
    for op in iter_operations(spec):
        for status, response in (op.node.get("responses") or {}).items():
            for name, link in (resolve(spec, response).get("links") or {}).items():
                link = resolve(spec, link)
                target = by_id.get(link.get("operationId"))
                if target is None:
                    findings.append(Finding("operation-id", op.label,
                                            f"link {name!r} ({status}) targets unknown operationId {link.get('operationId')!r}"))
                    continue
                accepted = {resolve(spec, p)["name"] for p in target.node.get("parameters", [])}
                for parameter in set(link.get("parameters") or {}) - accepted:
                    findings.append(Finding("operation-id", op.label,
                                            f"link {name!r} ({status}) sets {parameter!r}, which {target.label} does not take"))
    return findings


def _is_problem_response(spec: Spec, response: Any) -> bool:
    content = resolve(spec, response).get("content") or {}
    media = content.get(PROBLEM_MEDIA_TYPE)
    return bool(media) and media.get("schema", {}).get("$ref") == "#/components/schemas/Problem"


def check_error_responses(spec: Spec) -> list[Finding]:
    findings = []
    for op in iter_operations(spec):
        if op.section != "paths":
            continue  # webhooks we send describe the receiver's answer, not ours
        responses = op.node.get("responses") or {}
        if "429" not in responses:
            findings.append(Finding("error-responses", op.label, "no 429 response"))
        elif not _is_problem_response(spec, responses["429"]):
            findings.append(Finding("error-responses", op.label, "429 is not an application/problem+json Problem"))
        if not any(str(s).upper().startswith("5") or s == "default" for s in responses):
            findings.append(Finding("error-responses", op.label, "no 5xx or default response"))
        for status, response in responses.items():
            if (str(status)[0] in "45" or status == "default") and str(status) != "429" \
                    and not _is_problem_response(spec, response):
                findings.append(Finding("error-responses", op.label, f"{status} is not an application/problem+json Problem"))
    return findings


def check_rate_limit_headers(spec: Spec) -> list[Finding]:
    findings = []
    for op in iter_operations(spec):
        if not is_api_operation(spec, op):
            continue
        for status, response in (op.node.get("responses") or {}).items():
            headers = resolve(spec, response).get("headers") or {}
            for name in RATE_LIMIT_HEADERS:
                if name not in headers:
                    findings.append(Finding("rate-limit-headers", op.label, f"{status} response lacks the {name} header"))
            if str(status) == "429" and "Retry-After" not in headers:
                findings.append(Finding("rate-limit-headers", op.label, "429 response lacks Retry-After"))
    return findings


def check_security(spec: Spec) -> list[Finding]:
    findings = []
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    for op in iter_operations(spec):
        requirements = _security(spec, op)
        if not requirements or requirements == [{}]:
            findings.append(Finding("security", op.label, "no security requirement"))
            continue
        for requirement in requirements:
            for name, scopes in requirement.items():
                scheme = schemes.get(name)
                if scheme is None:
                    findings.append(Finding("security", op.label, f"unknown security scheme {name!r}"))
                    continue
                if scheme.get("type") == "oauth2":
                    known = set().union(*(flow.get("scopes", {}) for flow in scheme.get("flows", {}).values()))
                    for scope in set(scopes) - known:
                        findings.append(Finding("security", op.label, f"scope {scope!r} is not declared by {name!r}"))
        if is_api_operation(spec, op):
            findings.extend(_check_required_scope(op, requirements))
    return findings


def _check_required_scope(op: Operation, requirements: list[dict[str, list[str]]]) -> list[Finding]:
    if "x-required-scope" not in op.node:
        return [Finding("security", op.label, "no x-required-scope (use null when any valid token will do)")]
    scope = op.node["x-required-scope"]
    oauth_scopes = [scopes for req in requirements for name, scopes in req.items() if name == "oauth2"]
    expected = [scope] if scope else []
    findings = []
    if oauth_scopes and oauth_scopes[0] != expected:
        findings.append(Finding("security", op.label, f"oauth2 scopes {oauth_scopes[0]} disagree with x-required-scope {scope!r}"))
    if scope and f"`{scope}`" not in op.node.get("description", ""):
        findings.append(Finding("security", op.label, f"description does not name the required scope `{scope}`"))
    return findings


def _object_schemas(spec: Spec, schema: Any, where: str, seen: set[str]) -> Iterator[tuple[str, dict]]:
    """Every object-typed schema reachable from `schema`, following `$ref`s once each."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            return
        seen.add(ref)
        yield from _object_schemas(spec, resolve(spec, schema), ref, seen)
        return
    types = schema.get("type")
    # Only a schema that says `type: object` is an object; an untyped branch of anyOf/allOf that names
    # `properties` is a constraint on its parent (ScoreMatchesCategory), closed by the parent.
    if types == "object" or (isinstance(types, list) and "object" in types):
        yield where, schema
    for key in SCHEMA_CHILDREN:
        for name, child in (schema.get(key) or {}).items():
            yield from _object_schemas(spec, child, f"{where}/{key}/{name}", seen)
    for key in SCHEMA_CHILD:
        yield from _object_schemas(spec, schema.get(key), f"{where}/{key}", seen)
    for key in SCHEMA_LISTS:
        for i, child in enumerate(schema.get(key) or []):
            yield from _object_schemas(spec, child, f"{where}/{key}/{i}", seen)


def _json_schemas(spec: Spec, node: dict) -> Iterator[dict]:
    for media_type, media in (resolve(spec, node).get("content") or {}).items():
        if media_type.endswith("json") and isinstance(media.get("schema"), dict):
            yield media["schema"]


def check_body_strictness(spec: Spec) -> list[Finding]:
    """Request bodies are closed (an unknown field is a 422); responses stay open to additions.

    A closed request schema is what makes a fuzzer's extra field a meaningful negative test;
    an open response schema is what lets AgentBuddy add a field without breaking Broadcast.
    """
    findings = []
    for op in iter_operations(spec):
        if op.section != "paths":
            continue  # top-level webhooks mirror bodies judged at their paths, or are AgentBuddy's own output
        body = op.node.get("requestBody")
        for schema in _json_schemas(spec, body) if body else ():
            for where, obj in _object_schemas(spec, schema, "requestBody", set()):
                if obj.get("additionalProperties", True) is True:
                    findings.append(Finding("body-strictness", op.label,
                                            f"request object {where} accepts unknown properties"))
        for status, response in (op.node.get("responses") or {}).items():
            for schema in _json_schemas(spec, response):
                for where, obj in _object_schemas(spec, schema, f"{status}", set()):
                    if obj.get("additionalProperties") is False:
                        findings.append(Finding("body-strictness", op.label,
                                                f"response object {where} forbids unknown properties"))
    return findings


# --------------------------------------------------------------------------------------- examples
def schema_registry(spec: Spec) -> Registry:
    """The whole contract as one JSON Schema resource, so `#/components/...` refs resolve."""
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))


def validator_for(spec: Spec, pointer: str, registry: Registry | None = None) -> jsonschema.Draft202012Validator:
    """A Draft 2020-12 validator (formats checked) for the schema at `pointer` inside the contract."""
    return jsonschema.Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{pointer}"},
        registry=registry or schema_registry(spec),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def schema_pointer(spec: Spec, name: str) -> str:
    if name not in spec["components"]["schemas"]:
        raise KeyError(f"no schema {name!r} in components.schemas")
    return f"/components/schemas/{escape(name)}"


SCHEMA_CHILDREN = ("properties", "patternProperties", "$defs", "dependentSchemas")
SCHEMA_CHILD = ("items", "additionalProperties", "propertyNames", "not", "if", "then", "else", "contains",
                "unevaluatedItems", "unevaluatedProperties")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def iter_examples(spec: Spec) -> Iterator[tuple[str, str, Any]]:
    """Every (where, schema pointer, example value) in the document, at its literal location."""

    def walk_schema(node: Any, ptr: str) -> Iterator[tuple[str, str, Any]]:
        if not isinstance(node, dict):
            return
        for i, value in enumerate(node.get("examples", []) if isinstance(node.get("examples"), list) else []):
            yield f"{ptr}/examples/{i}", ptr, value
        if "example" in node:
            yield f"{ptr}/example", ptr, node["example"]
        for key in SCHEMA_CHILDREN:
            for name, child in (node.get(key) or {}).items():
                yield from walk_schema(child, f"{ptr}/{key}/{escape(name)}")
        for key in SCHEMA_CHILD:
            yield from walk_schema(node.get(key), f"{ptr}/{key}")
        for key in SCHEMA_LISTS:
            for i, child in enumerate(node.get(key) or []):
                yield from walk_schema(child, f"{ptr}/{key}/{i}")

    def walk(node: Any, ptr: str) -> Iterator[tuple[str, str, Any]]:
        if isinstance(node, list):
            for i, child in enumerate(node):
                yield from walk(child, f"{ptr}/{i}")
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("schema"), dict):  # media type, parameter or header object
            schema_ptr = f"{ptr}/schema"
            if "example" in node:
                yield f"{ptr}/example", schema_ptr, node["example"]
            for name, example in (node.get("examples") or {}).items():
                example = resolve(spec, example)
                if "value" in example:
                    yield f"{ptr}/examples/{escape(name)}", schema_ptr, example["value"]
            yield from walk_schema(node["schema"], schema_ptr)
        for key, child in node.items():
            if key not in ("schema", "example", "examples"):  # example values are data, not document
                yield from walk(child, f"{ptr}/{escape(str(key))}")

    for name, schema in ((spec.get("components") or {}).get("schemas") or {}).items():
        yield from walk_schema(schema, f"/components/schemas/{escape(name)}")
    for key in ("paths", "webhooks"):
        yield from walk(spec.get(key) or {}, f"/{key}")
    components = {k: v for k, v in (spec.get("components") or {}).items() if k != "schemas"}
    yield from walk(components, "/components")


def check_examples(spec: Spec) -> list[Finding]:
    registry = schema_registry(spec)
    findings = []
    for where, schema_ptr, value in iter_examples(spec):
        for error in validator_for(spec, schema_ptr, registry).iter_errors(value):
            at = "/" + "/".join(map(str, error.absolute_path))
            findings.append(Finding("examples", where, f"{at}: {error.message}"))
    return findings


RULES: tuple[Callable[[Spec], list[Finding]], ...] = (
    check_openapi, check_operation_ids, check_error_responses, check_rate_limit_headers, check_security,
    check_body_strictness, check_examples,
)


def lint_spec(spec: Spec) -> list[Finding]:
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(spec))
        if rule is check_openapi and findings:
            break  # the project rules assume a structurally valid document
    return findings


def _default_spec() -> Path:
    return spec_path()


# --------------------------------------------------------------------------------------- Spectral, Redocly
def external_findings(path: Path) -> list[Finding]:
    """Spectral (`spectral:oas`) and Redocly (`recommended`): every error and every warning is a finding."""
    findings = []
    spectral = node_tools.run("spectral", "lint", str(path), "--format", "json", "--quiet",
                              "--ruleset", str(node_tools.ROOT / ".spectral.yaml"))
    for item in json.loads(spectral.stdout or "[]"):
        if item.get("severity", 3) <= 1:  # 0 error, 1 warning
            line = item.get("range", {}).get("start", {}).get("line", -1) + 1
            findings.append(Finding("spectral", f"line {line}", f"{item['code']}: {item['message']}"))
    redocly = node_tools.run("redocly", "lint", str(path), "--format", "json",
                             "--config", str(node_tools.ROOT / "redocly.yaml"))
    start = redocly.stdout.find("{")
    for problem in (json.loads(redocly.stdout[start:]) if start >= 0 else {}).get("problems", []):
        if problem.get("severity") in ("error", "warn"):
            where = (problem.get("location") or [{}])[0].get("pointer", "")
            findings.append(Finding("redocly", where, f"{problem['ruleId']}: {problem['message']}"))
    if spectral.returncode not in (0, 1) or (start < 0 and redocly.returncode != 0):
        findings.append(Finding("external", str(path), f"a linter failed to run: {spectral.stderr or redocly.stderr}"))
    return findings


@click.command()
@click.option("--spec", "spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Contract to lint (default: openapi/agentbuddy.yaml).")
@click.option("--external/--no-external", default=None,
              help="Also run Spectral and Redocly (default: when Node.js and npm are there; --external requires them).")
def lint(spec_file: Path | None, external: bool | None) -> None:
    """Validate the contract: openapi-spec-validator, the project's rules, Spectral and Redocly; exit 1 on any finding."""
    path = spec_file or _default_spec()
    spec = load_spec(path)
    findings = lint_spec(spec)
    reason = node_tools.why_unavailable()
    if external or (external is None and reason is None):
        try:
            findings.extend(external_findings(path))
        except node_tools.NodeToolsUnavailable as exc:
            click.echo(f"lint: Spectral and Redocly cannot run: {exc}", err=True)
            sys.exit(1)
    else:
        click.echo(f"Spectral and Redocly skipped: {reason or '--no-external'}")
    operations = list(iter_operations(spec))
    examples = sum(1 for _ in iter_examples(spec))
    click.echo(f"{path}: {len(operations)} operations, {examples} examples checked")
    if not findings:
        click.secho("ok: OpenAPI valid; operationIds, error responses, rate-limit headers, security, "
                    "body strictness and examples all pass; Spectral and Redocly report nothing",
                    fg="green")
        return
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    for rule, items in by_rule.items():
        click.secho(f"\n{rule} ({len(items)})", fg="red", bold=True)
        for finding in items:
            click.echo(f"  {finding.where}: {finding.message}")
    click.secho(f"\n{len(findings)} finding(s)", fg="red")
    sys.exit(1)
