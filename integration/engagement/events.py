"""The one shape every email engagement event takes inside Broadcast.

Provider webhooks (Resend), Broadcast's own unsubscribe link and the simulator all produce an
`EngagementEvent`; storage, activity, scoring and delivery to AgentBuddy all consume it. Only the
seven types of the contract's 5.1 enum ever leave Broadcast; the provider's operational types
(`delivery_delayed`, `failed`, `suppressed`) are kept for the record and for campaign status.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

#: The contract's 5.1 `event_type` enum, in funnel order.
CONTRACT_EVENT_TYPES: tuple[str, ...] = (
    "sent", "delivered", "opened", "clicked", "bounced", "unsubscribed", "complained",
)
#: Provider-only types: stored and used for status, never sent to AgentBuddy.
INTERNAL_EVENT_TYPES: tuple[str, ...] = ("delivery_delayed", "failed", "suppressed")
EVENT_TYPES: frozenset[str] = frozenset(CONTRACT_EVENT_TYPES + INTERNAL_EVENT_TYPES)

BOUNCE_TYPES: frozenset[str] = frozenset({"hard", "soft"})


@dataclass(slots=True)
class EngagementEvent:
    """One thing that happened to one email sent to one contact.

    `event_id` is derived from the event's natural key (see `natural_event_id`) so that a
    provider redelivering the same event under a new message id still collapses to one event.
    `machine` events (privacy-proxy opens, link-scanner clicks) are kept but never counted.
    """

    event_id: str
    event_type: str
    occurred_at: datetime
    email_id: str | None = None
    contact_id: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    campaign_kind: str | None = None
    provider_event_id: str | None = None
    url: str | None = None
    link_category: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    bounce_type: str | None = None
    machine: bool = False
    machine_reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event_type {self.event_type!r}")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        if self.bounce_type is not None and self.bounce_type not in BOUNCE_TYPES:
            raise ValueError(f"bounce_type must be hard or soft, not {self.bounce_type!r}")

    @property
    def is_contract_event(self) -> bool:
        """True when AgentBuddy's 5.1 enum has a name for this event."""
        return self.event_type in CONTRACT_EVENT_TYPES

    @property
    def timestamp(self) -> int:
        """Whole seconds since the epoch: the resolution activity state works at."""
        return int(self.occurred_at.timestamp())

    def to_contract(self) -> dict[str, Any]:
        """The 5.1 event as the contract's `EngagementEvent` (push API, batch `events` lists).

        The contact is named by the path or the enclosing update, so `contact_id` is not repeated.
        """
        if not self.is_contract_event:
            raise ValueError(f"{self.event_type!r} is internal and is not sent to AgentBuddy")
        if not self.campaign_id:
            raise ValueError("the contract requires campaign_id on every event; resolve it before sending")
        metadata: dict[str, Any] = {}
        for key in ("url", "link_category", "bounce_type", "machine_reason"):
            value = getattr(self, key)
            if value is not None:
                metadata[key] = value
        if self.machine:
            metadata["machine"] = True
        out = {"event_id": self.event_id, "event_type": self.event_type, "campaign_id": self.campaign_id,
               "timestamp": iso(self.occurred_at), "metadata": metadata}
        if self.campaign_name is not None:
            out["campaign_name"] = self.campaign_name
        return out


def natural_event_id(email_id: str | None, event_type: str, occurred_at: datetime,
                     url: str | None = None, contact_id: str | None = None) -> str:
    """A stable id from what makes an event itself: which email, what, when (to the second), where.

    Two deliveries of one provider event get the same id; two opens of one email in different
    seconds get different ids.
    """
    second = int(occurred_at.timestamp())
    key = "\x1f".join((email_id or "", contact_id or "", event_type, str(second), url or ""))
    return "evt_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, the way the contract writes date-times."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
