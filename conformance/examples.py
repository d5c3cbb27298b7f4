"""The contract's webhook payloads by name, and sending one signed, for `ab-harness send-webhook`.

Names are `<last path segment>.<example>` for the inbound paths (`events.spec73`,
`batch.appendixB`) and `<webhook>.<example>` for the contract's top-level webhooks whose body no
path takes (`changeNotification.contactUpdated`, what AgentBuddy sends to Broadcast).
"""
from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import requests

from .model import KitError
from .schema import ContractView
from .signing import signed_headers


@dataclass(frozen=True)
class Example:
    name: str
    path: str | None  # where it goes under the API base URL; None: only to a full URL
    body: Any
    summary: str


def webhook_examples(contract: ContractView) -> dict[str, Example]:
    found: dict[str, Example] = {}
    taken: set[str] = set()
    for path, item in contract.spec["paths"].items():
        operation = item.get("post") or {}
        if not any("webhookSignature" in r for r in operation.get("security", [])) or operation.get("deprecated"):
            continue  # a deprecated route's examples are its replacement's (DECISIONS item 33)
        content = operation["requestBody"]["content"]["application/json"]
        taken.add(content["schema"].get("$ref", ""))
        for key, example in (content.get("examples") or {}).items():
            name = f"{path.rstrip('/').rsplit('/', 1)[-1]}.{key}"
            found[name] = Example(name, path, example["value"], example.get("summary") or operation["summary"])
    for hook, item in (contract.spec.get("webhooks") or {}).items():
        operation = item.get("post") or {}
        content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        if content.get("schema", {}).get("$ref", "") in taken:
            continue
        for key, example in (content.get("examples") or {}).items():
            found[f"{hook}.{key}"] = Example(f"{hook}.{key}", None, example["value"], operation.get("summary", ""))
    return found


def with_contact(body: Any, contact_id: str) -> Any:
    """The payload with every `contact_id` replaced (examples name contacts of the spec's samples)."""
    body = copy.deepcopy(body)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "contact_id":
                    node[key] = contact_id
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    return body


def target_url(url: str, example: Example | None, connection_id: str | None = None) -> str:
    """A full endpoint URL; a bare server or API base gets the example's own path, on the connection's
    route when `connection_id` is given, else on the deprecated route that names no connection."""
    base = url.rstrip("/")
    if example is None or example.path is None or "/webhooks/" in base:
        return url
    if not base.endswith("/v1"):
        base += "/v1"
    path = example.path
    if connection_id:
        path = path.replace("{connection_id}", quote(connection_id, safe=""))
    else:
        path = path.replace("/{connection_id}", "")
    return base + path


def send(url: str, secret: str, body: str, msg_id: str | None = None, offset_seconds: int = 0,
         timeout: float = 15.0) -> requests.Response:
    if not secret.startswith("whsec_"):
        raise KitError("The secret must be a Standard Webhooks secret (whsec_<base64>), as GET /v1/connection gives.")
    when = datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)
    try:
        headers = signed_headers(secret, msg_id or f"msg_{secrets.token_hex(8)}", when, body)
    except Exception:  # the package rejects a secret that is not base64 after whsec_
        raise KitError("The secret is not a valid Standard Webhooks secret (whsec_ followed by base64).") from None
    try:
        return requests.post(url, data=body.encode(), headers=headers, timeout=timeout)
    except requests.RequestException as error:
        raise KitError(f"Cannot reach {url}: {type(error).__name__}.") from None


def body_text(example: Example | None, file_text: str | None, contact_id: str | None) -> str:
    if file_text is not None:
        if contact_id is None:
            return file_text
        try:
            return json.dumps(with_contact(json.loads(file_text), contact_id))
        except ValueError:
            raise KitError("--contact-id needs a JSON file; this one is not JSON.") from None
    body = example.body if contact_id is None else with_contact(example.body, contact_id)
    return json.dumps(body)
