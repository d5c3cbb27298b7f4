"""What the client sent to AgentBuddy's inbound doors (webhooks, Option A; the push API, Option B),
judged from the inbound log: the route (the connection's own, contract 1.2.0), headers and
signatures, timestamps, delivery ids that name two different payloads, and one event delivered
twice under different ids.

A delivery's id is its `webhook-id` (Option A) or its `Idempotency-Key` (Option B; a push without
one is a delivery of its own). Standard Webhooks asks a sender to keep the id across retries, so
the receiver can apply each message once: the same event under a new id is applied twice by any
receiver that deduplicates as the standard says.
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Iterator

from .model import WARNING, Finding, Records, finding, rule, times

WEBHOOK_PREFIX = "/v1/webhooks/broadcast/"
DEPRECATED_ROUTES = frozenset(f"{WEBHOOK_PREFIX}{kind}" for kind in ("events", "propensity", "batch"))


def _webhooks(records: Records) -> list[dict]:
    return [e for e in records.inbound if e["path"].startswith(WEBHOOK_PREFIX)]


def _by_signature(records: Records, verdict: str) -> list[Finding] | None:
    webhooks = _webhooks(records)
    if not webhooks:
        return None
    bad = [e for e in webhooks if e.get("signature") == verdict]
    return [finding(f"{len(bad)} webhook(s) refused: {verdict.replace('_', ' ')}", bad, "inbound")] if bad else []


@rule("webhooks.route.connection", "Posts webhooks to the connection's own route, not the deprecated one "
      "that names no connection", "DECISIONS item 33; openapi/agentbuddy.yaml paths./webhooks/broadcast/"
      "{connection_id}/* (the routes without one are deprecated since 1.2.0)", WARNING)
def route_connection(records: Records) -> list[Finding] | None:
    webhooks = _webhooks(records)
    if not webhooks:
        return None
    old = [e for e in webhooks if e["path"] in DEPRECATED_ROUTES]
    return [finding(f"{len(old)} webhook(s) sent to a deprecated route without a connection id; post to "
                    "/v1/webhooks/broadcast/{connection_id}/… (the id of GET /v1/connection)", old, "inbound")] \
        if old else []


@rule("webhooks.route.known", "Posts webhooks only to a connection that exists (the id of GET /v1/connection)",
      "DECISIONS item 33; openapi/agentbuddy.yaml components.parameters.ConnectionIdPath")
def route_known(records: Records) -> list[Finding] | None:
    return _by_signature(records, "unknown_connection")


@rule("webhooks.headers.present", "Every webhook carries webhook-id, webhook-timestamp (Unix seconds) and "
      "webhook-signature", "openapi/agentbuddy.yaml components.parameters.Webhook*Header; Standard Webhooks")
def headers_present(records: Records) -> list[Finding] | None:
    return _by_signature(records, "missing")


@rule("webhooks.signature.valid", "Every webhook is signed with the connection's secret, over the exact bytes sent",
      "DECISIONS Q11; openapi/agentbuddy.yaml components.securitySchemes.webhookSignature; Standard Webhooks")
def signature_valid(records: Records) -> list[Finding] | None:
    return _by_signature(records, "invalid_signature")


@rule("webhooks.timestamp.current", "Signs with the current time (within ±5 minutes), re-signing every retry",
      "DECISIONS Q11 (±5 minutes; 401: re-sign before retrying); Standard Webhooks")
def timestamp_current(records: Records) -> list[Finding] | None:
    return _by_signature(records, "timestamp_out_of_tolerance")


def _delivery_id(entry: dict) -> str:
    if entry["path"].startswith(WEBHOOK_PREFIX):
        return f"webhook-id {entry.get('webhook_id')}"
    key = entry.get("idempotency_key")
    return f"Idempotency-Key {key}" if key else f"request #{entry['seq']}"


def _canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


@rule("webhooks.id.unique", "A webhook-id (or Idempotency-Key) names one payload: a retry repeats it byte for byte",
      "DECISIONS Q11, Part 2 #28; openapi/agentbuddy.yaml components.parameters.IdempotencyKey; Standard Webhooks")
def id_unique(records: Records) -> list[Finding] | None:
    signed = [e for e in records.inbound if e.get("signature") == "valid" and e.get("webhook_id")]
    keyed = [e for e in records.inbound if e.get("idempotency_key") and not e["path"].startswith(WEBHOOK_PREFIX)]
    if not signed and not keyed:
        return None
    payloads: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for entry in signed:
        payloads[(entry["connection_id"], entry["webhook_id"])].setdefault(_canonical(entry.get("payload")), entry)
    findings = [finding(f"webhook-id {msg_id} was sent with {len(bodies)} different payloads", bodies.values(),
                        "inbound") for (_, msg_id), bodies in payloads.items() if len(bodies) > 1]
    conflicts = [e for e in keyed if e["status"] == 409]
    if conflicts:
        findings.append(finding(f"an Idempotency-Key was reused with another request ({times(len(conflicts))}, "
                                "answered 409)", conflicts, "inbound"))
    return findings


def _accepted(records: Records) -> list[dict]:
    return [e for e in records.inbound if 200 <= e["status"] < 300 and e.get("connection_id")
            and (e.get("signature") == "valid" or not e["path"].startswith(WEBHOOK_PREFIX))]


def _event_ids(entry: dict) -> Iterator[str]:
    """The 5.1 event ids a delivery carries (an email event, a pushed event, a batch's events)."""
    payload = entry.get("payload")
    if not isinstance(payload, dict):
        return
    data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
    if isinstance(data.get("event_id"), str) and "events" in entry["path"]:
        yield data["event_id"]
    for update in data.get("updates") or []:
        for event in (update.get("events") or []) if isinstance(update, dict) else []:
            if isinstance(event, dict) and isinstance(event.get("event_id"), str):
                yield event["event_id"]


@rule("webhooks.event.once", "Delivers each event once: a retry keeps its webhook-id (or Idempotency-Key), "
      "never a new one", "DECISIONS Q11 (webhook-id is the deduplication key), Part 3 (delivery); Standard Webhooks")
def event_once(records: Records) -> list[Finding] | None:
    accepted = _accepted(records)
    if not accepted:
        return None
    deliveries: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)  # (connection, what) -> id -> entry
    for entry in accepted:
        connection, delivery = entry["connection_id"], _delivery_id(entry)
        deliveries[(connection, "payload " + entry["path"] + " " + _canonical(entry.get("payload")))] \
            .setdefault(delivery, entry)
        for event_id in _event_ids(entry):
            deliveries[(connection, f"event {event_id}")].setdefault(delivery, entry)
    twice = {what: by_id for (_, what), by_id in deliveries.items() if len(by_id) > 1}
    events = {what: by_id for what, by_id in twice.items() if what.startswith("event ")}
    copies = {what: by_id for what, by_id in twice.items() if what.startswith("payload ")}
    findings = [finding(f"{what} was accepted under {len(by_id)} different ids: {', '.join(by_id)}", by_id.values(),
                        "inbound") for what, by_id in events.items()]
    told = {delivery for by_id in events.values() for delivery in by_id}  # a copy of an event is said once
    findings += [finding(f"the same payload to {what.split(' ', 2)[1]} was accepted under {len(by_id)} different ids: "
                         f"{', '.join(by_id)}", by_id.values(), "inbound")
                 for what, by_id in copies.items() if not set(by_id) <= told]
    return findings


RULES = [route_connection, route_known, headers_present, signature_valid, timestamp_current, id_unique, event_once]
