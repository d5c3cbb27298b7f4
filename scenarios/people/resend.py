"""What Resend would POST to Broadcast for a `SimEvent`: the payload and its Svix signature.

Resend signs webhooks with Svix, whose byte format is Standard Webhooks' with `svix-*`
header names; we sign with the `standardwebhooks` package (a runtime dependency) and rename
the headers, so the integration's verifier sees exactly what production would send.
"""
from __future__ import annotations

import json
from datetime import datetime

from standardwebhooks import Webhook

from .timeline import SimEvent, stable_rng

SENDER = "Broadcast <news@broadcast.example>"
RESEND_TYPES = {
    "sent": "email.sent", "delivered": "email.delivered", "opened": "email.opened", "clicked": "email.clicked",
    "bounced": "email.bounced", "complained": "email.complained",
}


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def payload(event: SimEvent, to: str, subject: str, tags: dict[str, str] | None = None,
            broadcast_id: str | None = None) -> dict:
    """Resend's webhook body for one event; `unsubscribed` has no Resend webhook and raises.

    `tags` are the ones Broadcast attached at send time (Resend allows [A-Za-z0-9_-] values).
    """
    if event.type not in RESEND_TYPES:
        raise ValueError(f"Resend sends no webhook for {event.type!r} events")
    data: dict = {
        "email_id": event.email_id, "created_at": _iso(event.at), "from": SENDER, "to": [to],
        "subject": subject, "tags": dict(tags or {}),
    }
    if broadcast_id:
        data["broadcast_id"] = broadcast_id
    if event.type == "clicked":
        data["click"] = {"ipAddress": event.ip, "link": event.link_url, "timestamp": _iso(event.at),
                         "userAgent": event.user_agent}
    elif event.type == "opened":
        data["open"] = {"ipAddress": event.ip, "timestamp": _iso(event.at), "userAgent": event.user_agent}
    elif event.type == "bounced":
        data["bounce"] = {"message": "The recipient's mailbox does not exist.", "subType": "General",
                          "type": "Permanent"}
    return {"type": RESEND_TYPES[event.type], "created_at": _iso(event.at), "data": data}


def message_id(seed: int, event: SimEvent) -> str:
    """Svix message ids are per delivery attempt of one event; derived from the seed, never random."""
    rng = stable_rng(seed, "svix", event.email_id, event.type, event.at.isoformat(), event.link_url)
    return "msg_" + "".join(rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(27))


def signed_request(secret: str, msg_id: str, at: datetime, body: dict) -> tuple[bytes, dict[str, str]]:
    """Body bytes and Svix headers, signed for the instant `at` (the simulated now)."""
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True)
    signature = Webhook(secret).sign(msg_id, at, raw)
    headers = {"svix-id": msg_id, "svix-timestamp": str(int(at.timestamp())), "svix-signature": signature,
               "content-type": "application/json"}
    return raw.encode(), headers
