"""Standard Webhooks signing, both directions, with the `standardwebhooks` package doing the
cryptography. Verification is ours only in two respects: the timestamp is checked against the
fake's clock (the package's `verify()` reads wall time), and the secret is not known in
advance: the connection is whichever one's secret verifies."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook


def sign(secret: str, msg_id: str, when: datetime, body: str) -> str:
    return Webhook(secret).sign(msg_id=msg_id, timestamp=when, data=body)


def signed_headers(secret: str, msg_id: str, when: datetime, body: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": sign(secret, msg_id, when, body), "Content-Type": "application/json"}


@dataclass(frozen=True)
class Verdict:
    connection: object | None
    reason: str  # valid | invalid_signature | timestamp_out_of_tolerance
    skew_seconds: int = 0


def verify(connections, msg_id: str, timestamp: int, signature_header: str, body: str,
           now: datetime, tolerance_seconds: int) -> Verdict:
    sent_at = datetime.fromtimestamp(timestamp, timezone.utc)
    offered = [part.split(",", 1)[1] for part in signature_header.split(" ")
               if part.startswith("v1,") and len(part) > 3]
    match = None
    for connection in connections:
        expected = sign(connection.webhook_secret, msg_id, sent_at, body).split(",", 1)[1]
        if any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in offered):
            match = connection
            break
    if match is None:
        return Verdict(None, "invalid_signature")
    skew = int(timestamp - now.timestamp())
    if abs(skew) > tolerance_seconds:
        return Verdict(match, "timestamp_out_of_tolerance", skew)
    return Verdict(match, "valid", skew)
