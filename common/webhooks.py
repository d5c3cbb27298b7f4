"""Standard Webhooks signing and verification, against an injected clock.

The `standardwebhooks` package owns the byte format and the HMAC; its `verify()` however reads
the wall clock for the ±5 minute tolerance, knows one secret at a time and one header spelling.
Every receiver in the project needs the same three extras, so they live here once:

* the tolerance is checked against the receiver's clock (a replay runs months in seconds);
* several secrets may be tried (a fake that learns whose webhook arrived from which secret
  verifies it; a secret being rotated), and the one that matched is returned;
* `webhook-*` headers or their `svix-*` twins (Resend signs with Svix, whose scheme is this one).

The signature is checked before the timestamp, so an unsigned sender learns nothing about our
clock from the error it gets.
"""
from __future__ import annotations

import base64
import functools
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Literal, Mapping

from standardwebhooks.webhooks import Webhook

DEFAULT_TOLERANCE_SECONDS = 300
HEADER_PREFIXES = ("webhook", "svix")

ErrorCode = Literal["invalid_signature", "timestamp_out_of_tolerance"]


class WebhookError(Exception):
    """Verification failed. `code` is the contract's stable error code; `matched` is the secret
    whose signature verified when only the timestamp was wrong (None otherwise)."""

    def __init__(self, code: ErrorCode, detail: str, matched: str | None = None, skew_seconds: int = 0) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.matched = matched
        self.skew_seconds = skew_seconds


@dataclass(frozen=True)
class Verified:
    message_id: str
    timestamp: datetime
    secret: str  # the secret whose signature matched
    skew_seconds: int  # sender's clock minus ours


@functools.lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    return Webhook(secret)  # decodes the base64 secret once, not on every request


def sign(secret: str, message_id: str, when: datetime, body: str) -> str:
    """The `webhook-signature` header value (`v1,<base64>`) for `body` sent at `when`."""
    return _webhook(secret).sign(msg_id=message_id, timestamp=when, data=body)


def signed_headers(secret: str, message_id: str, when: datetime, body: str, *,
                   prefix: str = "webhook") -> dict[str, str]:
    """Every header a signed JSON request carries (`prefix="svix"` for what Resend sends)."""
    return {f"{prefix}-id": message_id, f"{prefix}-timestamp": str(int(when.timestamp())),
            f"{prefix}-signature": sign(secret, message_id, when, body), "Content-Type": "application/json"}


def verify(body: bytes | str, headers: Mapping[str, str], secrets: str | Iterable[str], now: datetime,
           tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> Verified:
    """Check a signed request against the raw body; raise `WebhookError` when it fails."""
    message_id, stamp, offered = _signature_headers(headers)
    try:
        seconds = int(stamp)
        sent_at = datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise WebhookError("invalid_signature", "the webhook timestamp must be integer seconds since the epoch") from None
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise WebhookError("invalid_signature", "the body is not UTF-8") from None
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    matched = next((secret for secret in candidates if _matches(secret, message_id, sent_at, text, offered)), None)
    if matched is None:
        raise WebhookError("invalid_signature", "no signature matches the body")
    skew = int(seconds - now.timestamp())
    if abs(skew) > tolerance_seconds:
        raise WebhookError("timestamp_out_of_tolerance",
                           f"the webhook timestamp is {abs(skew)} s from our clock (tolerance {tolerance_seconds} s)",
                           matched=matched, skew_seconds=skew)
    return Verified(message_id, sent_at, matched, skew)


def _signature_headers(headers: Mapping[str, str]) -> tuple[str, str, list[bytes]]:
    lowered = {key.lower(): value for key, value in headers.items()}
    for prefix in HEADER_PREFIXES:
        values = [lowered.get(f"{prefix}-{name}") for name in ("id", "timestamp", "signature")]
        if all(values):
            message_id, stamp, signature = values
            return message_id, stamp, _offered(signature)
    raise WebhookError("invalid_signature", "webhook-id, webhook-timestamp and webhook-signature are required")


def _offered(header: str) -> list[bytes]:
    """The `v1` signatures of a space-separated header; other versions and junk are ignored."""
    out = []
    for candidate in header.split():
        version, _, value = candidate.partition(",")
        if version != "v1" or not value:
            continue
        try:
            out.append(base64.b64decode(value, validate=True))
        except ValueError:
            continue
    return out


def _matches(secret: str, message_id: str, sent_at: datetime, text: str, offered: list[bytes]) -> bool:
    expected = base64.b64decode(sign(secret, message_id, sent_at, text).split(",", 1)[1])
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)
