"""Standard Webhooks signing for the kit, with the `standardwebhooks` package doing the HMAC.

Verification compares signatures only and leaves the timestamp to its own check: the package's
`verify()` rejects a stale timestamp and a bad signature alike, and the kit must tell the two
apart (`notifications.signature` and `notifications.timestamp` fail for different bugs).
"""
from __future__ import annotations

import hmac
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook


def sign(secret: str, msg_id: str, when: datetime, body: str) -> str:
    return Webhook(secret).sign(msg_id=msg_id, timestamp=when, data=body)


def signed_headers(secret: str, msg_id: str, when: datetime, body: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": sign(secret, msg_id, when, body), "Content-Type": "application/json"}


def signature_verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """True when one `v1,` signature of `webhook-signature` is the HMAC of id.timestamp.body."""
    msg_id, stamp = headers.get("webhook-id"), headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        return False
    expected = sign(secret, msg_id, datetime.fromtimestamp(int(stamp), timezone.utc),
                    body.decode("utf-8", "replace")).split(",", 1)[1]
    offered = [part.split(",", 1)[1] for part in headers.get("webhook-signature", "").split(" ")
               if part.startswith("v1,")]
    return any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in offered)
