"""Resend webhooks in, `EngagementEvent`s out; and the Svix signature check in front of them.

Resend posts `{"type", "created_at", "data": {"email_id", "from", "to", "subject", "created_at",
"tags", "click"?, "bounce"?, "failed"?, ...}}` and signs it with Svix (`svix-id`,
`svix-timestamp`, `svix-signature`, secret `whsec_...`). Svix's scheme *is* Standard Webhooks,
so verification reuses `standardwebhooks` for the signed bytes and only adds what the package
lacks: an injected clock for the tolerance.

Resend knows nothing of AgentBuddy: `contact_id` / `campaign_id` / `campaign_kind` come from the
tags Broadcast attaches when sending, and are None when absent (the pipeline then resolves them
from its send record by `email_id`). Resend has no unsubscribe webhook: Broadcast's own
unsubscribe link produces that event through `unsubscribe_event`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol

from common.webhooks import WebhookError, verify

from .events import EngagementEvent, natural_event_id

#: Resend `type` -> our event type. Anything else is stored but not mapped.
RESEND_EVENT_TYPES: dict[str, str] = {
    "email.sent": "sent",
    "email.delivered": "delivered",
    "email.delivery_delayed": "delivery_delayed",
    "email.opened": "opened",
    "email.clicked": "clicked",
    "email.bounced": "bounced",
    "email.complained": "complained",
    "email.failed": "failed",
    "email.suppressed": "suppressed",
}
#: Tag names Broadcast sets on every send (Resend tag values allow [A-Za-z0-9_-] only).
TAG_FIELDS: tuple[str, ...] = ("contact_id", "campaign_id", "campaign_name", "campaign_kind")

SIGNATURE_TOLERANCE = timedelta(minutes=5)


class Clock(Protocol):
    def now(self) -> datetime: ...


class ProviderPayloadError(ValueError):
    """A payload that cannot be what Resend sends; `path` points at the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class SignatureError(Exception):
    """A webhook that must be refused; `code` is the stable problem code to answer with."""

    def __init__(self, code: Literal["invalid_signature", "timestamp_out_of_tolerance"], message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class VerifiedWebhook:
    message_id: str
    timestamp: datetime
    payload: Any


@dataclass(frozen=True)
class ParseResult:
    """`mapped` with an event, or `stored_not_mapped` (unknown type: keep it, act on nothing)."""

    status: Literal["mapped", "stored_not_mapped"]
    provider_type: str
    event: EngagementEvent | None = None
    reason: str | None = None


def verify_resend_signature(body: bytes | str, headers: Mapping[str, str], secret: str, clock: Clock,
                            tolerance: timedelta = SIGNATURE_TOLERANCE) -> VerifiedWebhook:
    """Check a Svix-signed request against the raw body; return the parsed JSON payload.

    Accepts `svix-*` headers (what Resend sends) or their `webhook-*` Standard Webhooks twins,
    any number of space-separated `v1,<sig>` signatures (secret rotation), and refuses
    timestamps more than `tolerance` away from `clock.now()` either way (replay protection).
    """
    try:
        verified = verify(body, headers, secret, clock.now(), int(tolerance.total_seconds()))
    except WebhookError as exc:
        present = {key.lower() for key, value in headers.items() if value}
        missing = [f"svix-{name}" for name in ("id", "timestamp", "signature")
                   if f"svix-{name}" not in present and f"webhook-{name}" not in present]
        raise SignatureError(exc.code, f"missing header {missing[0]}" if missing else exc.detail) from None
    except ValueError as exc:  # a malformed secret is our misconfiguration, not the sender's fault
        raise ValueError(f"the provider webhook secret is not a valid whsec_ secret: {exc}") from exc
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProviderPayloadError("$", f"body is not JSON: {exc.msg}") from None
    return VerifiedWebhook(verified.message_id, verified.timestamp, payload)


def parse_resend_event(payload: Any, *, provider_event_id: str | None = None) -> ParseResult:
    """Map one Resend webhook payload (already JSON-decoded) to an `EngagementEvent`.

    Unknown fields are ignored and unknown `type`s come back `stored_not_mapped`; a payload that
    cannot be a Resend event raises `ProviderPayloadError` naming the field.
    """
    if not isinstance(payload, Mapping):
        raise ProviderPayloadError("$", "expected a JSON object")
    provider_type = payload.get("type")
    if not isinstance(provider_type, str) or not provider_type:
        raise ProviderPayloadError("$.type", "required string")
    event_type = RESEND_EVENT_TYPES.get(provider_type)
    if event_type is None:
        return ParseResult("stored_not_mapped", provider_type, reason=f"no mapping for {provider_type!r}")
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise ProviderPayloadError("$.data", "required object")
    email_id = data.get("email_id")
    if not isinstance(email_id, str) or not email_id:
        raise ProviderPayloadError("$.data.email_id", "required string")
    created_at = _timestamp(payload.get("created_at"), "$.created_at")
    to = data.get("to")
    if to is not None and not (isinstance(to, list) and all(isinstance(a, str) for a in to)):
        raise ProviderPayloadError("$.data.to", "must be a list of strings")
    tags = _tags(data.get("tags"))
    fields: dict[str, Any] = {"occurred_at": created_at}
    if event_type == "clicked":
        fields.update(_click(data.get("click"), created_at))
    elif event_type == "opened":
        fields.update(_open(data.get("open"), created_at))
    elif event_type == "bounced":
        fields["bounce_type"] = _bounce_type(data.get("bounce"))
    event = EngagementEvent(
        event_id=natural_event_id(email_id, event_type, fields["occurred_at"], fields.get("url")),
        event_type=event_type,
        email_id=email_id,
        provider_event_id=provider_event_id,
        contact_id=tags.get("contact_id"),
        campaign_id=tags.get("campaign_id"),
        campaign_name=tags.get("campaign_name"),
        campaign_kind=tags.get("campaign_kind"),
        raw=dict(payload),
        **fields,
    )
    return ParseResult("mapped", provider_type, event=event)


def unsubscribe_event(*, contact_id: str, occurred_at: datetime, email_id: str | None = None,
                      campaign_id: str | None = None, campaign_name: str | None = None,
                      source: str = "unsubscribe_link") -> EngagementEvent:
    """The `unsubscribed` event Broadcast's own unsubscribe link (or preference page) produces."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    return EngagementEvent(
        event_id=natural_event_id(email_id, "unsubscribed", occurred_at, contact_id=contact_id),
        event_type="unsubscribed", occurred_at=occurred_at.astimezone(timezone.utc),
        email_id=email_id, contact_id=contact_id, campaign_id=campaign_id,
        campaign_name=campaign_name, raw={"source": source},
    )


def _timestamp(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise ProviderPayloadError(path, "required ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ProviderPayloadError(path, f"not an ISO 8601 date-time: {value!r}") from None
    if moment.tzinfo is None:
        raise ProviderPayloadError(path, "date-time must carry a UTC offset")
    return moment.astimezone(timezone.utc)


def _tags(value: Any) -> dict[str, str]:
    """Resend shows tags as `{"name": "value"}` in webhooks and `[{"name", "value"}]` at send time."""
    pairs: dict[str, str] = {}
    if isinstance(value, Mapping):
        pairs = {str(k): v for k, v in value.items() if isinstance(v, str)}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if not (isinstance(item, Mapping) and isinstance(item.get("name"), str)
                    and isinstance(item.get("value"), str)):
                raise ProviderPayloadError(f"$.data.tags[{index}]", "expected {name, value} strings")
            pairs[item["name"]] = item["value"]
    elif value is not None:
        raise ProviderPayloadError("$.data.tags", "expected an object or a list")
    return {k: pairs[k] for k in TAG_FIELDS if pairs.get(k)}


def _click(click: Any, created_at: datetime) -> dict[str, Any]:
    if not isinstance(click, Mapping):
        raise ProviderPayloadError("$.data.click", "required object for email.clicked")
    link = click.get("link")
    if not isinstance(link, str) or not link:
        raise ProviderPayloadError("$.data.click.link", "required string")
    occurred = created_at
    if click.get("timestamp") is not None:
        occurred = _timestamp(click["timestamp"], "$.data.click.timestamp")
    return {"url": link, "occurred_at": occurred,
            "user_agent": _optional_str(click, "userAgent", "$.data.click.userAgent"),
            "ip": _optional_str(click, "ipAddress", "$.data.click.ipAddress")}


def _open(opened: Any, created_at: datetime) -> dict[str, Any]:
    """Resend's documented open carries no detail; take it when a sender adds `open` anyway."""
    if opened is None:
        return {}
    if not isinstance(opened, Mapping):
        raise ProviderPayloadError("$.data.open", "expected an object")
    occurred = created_at
    if opened.get("timestamp") is not None:
        occurred = _timestamp(opened["timestamp"], "$.data.open.timestamp")
    return {"occurred_at": occurred,
            "user_agent": _optional_str(opened, "userAgent", "$.data.open.userAgent"),
            "ip": _optional_str(opened, "ipAddress", "$.data.open.ipAddress")}


def _bounce_type(bounce: Any) -> str:
    """`Permanent` is a hard bounce; `Transient` and `Undetermined` (or no detail) are soft."""
    if bounce is None:
        return "soft"
    if not isinstance(bounce, Mapping):
        raise ProviderPayloadError("$.data.bounce", "expected an object")
    kind = bounce.get("type")
    if kind is not None and not isinstance(kind, str):
        raise ProviderPayloadError("$.data.bounce.type", "expected a string")
    return "hard" if (kind or "").lower() == "permanent" else "soft"


def _optional_str(container: Mapping[str, Any], key: str, path: str) -> str | None:
    value = container.get(key)
    if value is not None and not isinstance(value, str):
        raise ProviderPayloadError(path, "expected a string")
    return value or None
