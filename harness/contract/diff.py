"""`ab-harness contract diff OLD NEW`: every change between two versions of the contract, and who it breaks.

No maintained Python library diffs OpenAPI 3.1 with webhooks and tells a client's break from a server's
(see docs/contract.md), so this is a focused checker. It compares resolved operations (paths and webhooks),
parameters, request bodies, responses, headers and schemas, and classifies each change from both sides:

- a **client** (Broadcast calling AgentBuddy) breaks when a request it sends is refused or a response it reads
  loses something: removed operation/field/status/enum value in a response, a field or parameter made required
  in a request, a request value narrowed (type, enum, bounds);
- a **server** (whoever implements the operation) breaks when it must accept more than before: a request widened
  (new enum value, optional field where a required one was), or a response that must now carry more.

For `webhooks` the sender is AgentBuddy and the receiver Broadcast, so requests and responses swap sides.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import click
import yaml

from contract.reader import operations, resolve

Spec = dict[str, Any]


@dataclass(frozen=True)
class Change:
    where: str
    what: str
    breaks_client: bool = False
    breaks_server: bool = False

    @property
    def breaking(self) -> bool:
        return self.breaks_client or self.breaks_server

    def __str__(self) -> str:
        who = [side for side, hit in (("client", self.breaks_client), ("server", self.breaks_server)) if hit]
        return f"{'BREAKING for ' + ' and '.join(who) if who else 'compatible':<30} {self.where}: {self.what}"


def load(ref: str) -> Spec:
    """A file path, or a git revision `REV:path` (e.g. `HEAD~5:openapi/agentbuddy.yaml`)."""
    path = Path(ref)
    if path.is_file():
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    if ":" in ref:
        shown = subprocess.run(["git", "show", ref], capture_output=True, text=True)
        if shown.returncode == 0:
            return yaml.safe_load(shown.stdout)
        raise click.BadParameter(f"{ref} is neither a file nor a git revision:path ({shown.stderr.strip()})")
    raise click.BadParameter(f"{ref} is neither a file nor a git revision:path")


def major(spec: Spec) -> int:
    return int(str(spec.get("info", {}).get("version", "0")).split(".")[0])


# ------------------------------------------------------------------------------------------ walking
def _operations(spec: Spec) -> dict[tuple[str, str, str], dict]:
    return {(op.section, op.key, op.method): op.node for op in operations(spec)}


def _label(section: str, key: str, method: str) -> str:
    return f"{method.upper()} {key}" if section == "paths" else f"webhook {key}"


def diff(old: Spec, new: Spec) -> list[Change]:
    changes: list[Change] = []
    before, after = _operations(old), _operations(new)
    for op in sorted(before.keys() - after.keys()):
        changes.append(Change(_label(*op), "operation removed", breaks_client=True, breaks_server=op[0] == "webhooks"))
    for op in sorted(after.keys() - before.keys()):
        changes.append(Change(_label(*op), "operation added"))
    for op in sorted(before.keys() & after.keys()):
        changes.extend(_operation(old, new, _label(*op), before[op], after[op], webhook=op[0] == "webhooks"))
    return changes


def _operation(old: Spec, new: Spec, where: str, a: dict, b: dict, webhook: bool) -> Iterator[Change]:
    # request side: who sends it is the "client" of the operation; for a webhook that is AgentBuddy
    params_a = {(p["in"], p["name"]): p for p in map(lambda p: resolve(old, p), a.get("parameters", []))}
    params_b = {(p["in"], p["name"]): p for p in map(lambda p: resolve(new, p), b.get("parameters", []))}
    for key in sorted(params_a.keys() - params_b.keys()):
        yield Change(where, f"{key[0]} parameter {key[1]!r} removed", breaks_client=params_a[key].get("required", False),
                     breaks_server=False)
    for key in sorted(params_b.keys() - params_a.keys()):
        required = params_b[key].get("required", False)
        yield Change(where, f"{'required' if required else 'optional'} {key[0]} parameter {key[1]!r} added",
                     breaks_client=required)
    for key in sorted(params_a.keys() & params_b.keys()):
        pa, pb = params_a[key], params_b[key]
        if pb.get("required") and not pa.get("required"):
            yield Change(where, f"{key[0]} parameter {key[1]!r} made required", breaks_client=True)
        yield from _schema(old, new, f"{where} {key[0]} {key[1]}", pa.get("schema"), pb.get("schema"), request=True)
    body_a, body_b = resolve(old, a.get("requestBody") or {}), resolve(new, b.get("requestBody") or {})
    for media in sorted(set(body_a.get("content", {})) | set(body_b.get("content", {}))):
        sa, sb = body_a.get("content", {}).get(media), body_b.get("content", {}).get(media)
        if sa and not sb:
            yield Change(where, f"request body {media} removed", breaks_client=True)
        elif sb and not sa:
            yield Change(where, f"request body {media} added", breaks_client=bool(body_b.get("required")))
        else:
            yield from _schema(old, new, f"{where} request", sa.get("schema"), sb.get("schema"), request=True)
    responses_a, responses_b = a.get("responses") or {}, b.get("responses") or {}
    for status in sorted(set(responses_a) - set(responses_b), key=str):
        yield Change(where, f"response {status} removed", breaks_client=True)
    for status in sorted(set(responses_b) - set(responses_a), key=str):
        yield Change(where, f"response {status} added", breaks_server=True)
    for status in sorted(set(responses_a) & set(responses_b), key=str):
        ra, rb = resolve(old, responses_a[status]), resolve(new, responses_b[status])
        for name in sorted(set(ra.get("headers") or {}) - set(rb.get("headers") or {})):
            yield Change(where, f"response {status} header {name} removed", breaks_client=True)
        for name in sorted(set(rb.get("headers") or {}) - set(ra.get("headers") or {})):
            required = resolve(new, rb["headers"][name]).get("required", False)
            yield Change(where, f"response {status} header {name} added", breaks_server=required)
        for media in sorted(set(ra.get("content") or {}) & set(rb.get("content") or {})):
            yield from _schema(old, new, f"{where} {status}", ra["content"][media].get("schema"),
                               rb["content"][media].get("schema"), request=False)
        for media in sorted(set(ra.get("content") or {}) - set(rb.get("content") or {})):
            yield Change(where, f"response {status} {media} removed", breaks_client=True)


def _types(schema: dict) -> set[str]:
    t = schema.get("type")
    return set(t) if isinstance(t, list) else ({t} if t else set())


def _nullable_union(spec: Spec, schema: dict) -> dict:
    """`anyOf: [X, {type: null}]` is X with null allowed: the same values as `type: [..., 'null']`."""
    branches = schema.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
        other = resolve(spec, next(b for b in branches if b != {"type": "null"}))
        merged = {**other, **{k: v for k, v in schema.items() if k != "anyOf"}}
        if other.get("type"):
            merged["type"] = sorted(_types(other) | {"null"})
        if "enum" in other:
            merged["enum"] = [*other["enum"], None]
        return merged
    return schema


def _schema(old: Spec, new: Spec, where: str, a: Any, b: Any, request: bool, depth: int = 0) -> Iterator[Change]:
    """Structural comparison; `request` says which side narrowing hurts (see the module docstring)."""
    if not isinstance(a, dict) or not isinstance(b, dict) or depth > 12:
        return
    a, b = _nullable_union(old, resolve(old, a)), _nullable_union(new, resolve(new, b))
    narrowed = dict(breaks_client=request, breaks_server=not request)  # fewer values accepted / promised
    widened = dict(breaks_client=not request, breaks_server=request)   # more values accepted / possible
    ta, tb = _types(a), _types(b)
    if ta and tb and ta != tb:
        if tb < ta:
            yield Change(where, f"type narrowed {sorted(ta)} -> {sorted(tb)}", **narrowed)
        elif ta < tb:
            yield Change(where, f"type widened {sorted(ta)} -> {sorted(tb)}", **widened)
        else:
            yield Change(where, f"type changed {sorted(ta)} -> {sorted(tb)}", breaks_client=True, breaks_server=True)
    ea, eb = a.get("enum"), b.get("enum")
    if ea is not None and eb is not None:
        for value in [v for v in ea if v not in eb]:
            yield Change(where, f"enum value {value!r} removed", **narrowed)
        for value in [v for v in eb if v not in ea]:
            yield Change(where, f"enum value {value!r} added", **widened)
    for bound, tighter in (("minimum", lambda x, y: y > x), ("maximum", lambda x, y: y < x),
                           ("minLength", lambda x, y: y > x), ("maxLength", lambda x, y: y < x),
                           ("maxItems", lambda x, y: y < x)):
        if bound in a and bound in b and a[bound] != b[bound]:
            kind = narrowed if tighter(a[bound], b[bound]) else widened
            yield Change(where, f"{bound} {a[bound]} -> {b[bound]}", **kind)
    props_a, props_b = a.get("properties") or {}, b.get("properties") or {}
    req_a, req_b = set(a.get("required") or []), set(b.get("required") or [])
    for name in sorted(props_a.keys() - props_b.keys()):
        yield Change(where, f"field {name!r} removed", breaks_client=not request or name in req_a,
                     breaks_server=request and a.get("additionalProperties") is False)
    for name in sorted(props_b.keys() - props_a.keys()):
        required = name in req_b
        yield Change(where, f"{'required' if required else 'optional'} field {name!r} added",
                     breaks_client=request and required, breaks_server=(not request and required) or request)
    for name in sorted(req_b - req_a & props_a.keys()):
        yield Change(where, f"field {name!r} made required", **narrowed)
    for name in sorted((req_a - req_b) & props_b.keys()):
        yield Change(where, f"field {name!r} made optional", **widened)
    for name in sorted(props_a.keys() & props_b.keys()):
        yield from _schema(old, new, f"{where}.{name}", props_a[name], props_b[name], request, depth + 1)
    yield from _schema(old, new, f"{where}[]", a.get("items"), b.get("items"), request, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if (a.get(key) is None) != (b.get(key) is None):
            yield Change(where, f"{key} constraint {'added' if b.get(key) else 'removed'}",
                         **(narrowed if b.get(key) else widened))


@click.command("diff")
@click.argument("old")
@click.argument("new", required=False, default="openapi/agentbuddy.yaml")
def diff_command(old: str, new: str) -> None:
    """List every change from OLD to NEW (files or git `REV:path`); exit 1 on a breaking change unless the major
    version changed."""
    spec_old, spec_new = load(old), load(new)
    changes = diff(spec_old, spec_new)
    for change in changes:
        click.echo(str(change))
    breaking = [c for c in changes if c.breaking]
    versions = f"{spec_old['info']['version']} -> {spec_new['info']['version']}"
    click.echo(f"{len(changes)} change(s), {len(breaking)} breaking ({versions})")
    if breaking and major(spec_new) <= major(spec_old):
        click.echo("breaking changes need a new major version (and /v2); see openapi/DECISIONS.md Q5", err=True)
        sys.exit(1)


@click.group()
def contract() -> None:
    """The contract's own tooling: `contract diff OLD NEW`."""


contract.add_command(diff_command)
