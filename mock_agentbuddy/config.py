"""How one fake AgentBuddy is shaped: world size, seed, OAuth clients, limits and faults.

Everything a run depends on is here, so two runs with equal configs behave the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import defects as defect_switches

#: The fake's documented password for every seeded agent (the login page and `/__admin/world`).
AGENT_PASSWORD = "agentbuddy"

ALL_SCOPES = ("read:contacts", "read:offices", "read:agents", "read:properties", "write:engagement")

LOOPBACK_REDIRECT_URIS = (
    "http://127.0.0.1/integrations/agentbuddy/callback",
    "http://localhost/integrations/agentbuddy/callback",
    "http://127.0.0.1/callback",
)


@dataclass(frozen=True)
class ClientSpec:
    """A registered OAuth client. `client_secret` None means a public (PKCE-only) client."""

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    name: str


def default_clients() -> list[ClientSpec]:
    return [
        ClientSpec("broadcast-local", "broadcast-local-secret", LOOPBACK_REDIRECT_URIS, ALL_SCOPES,
                   "Broadcast (local)"),
        ClientSpec("broadcast-cli", None, LOOPBACK_REDIRECT_URIS, ALL_SCOPES, "Broadcast CLI (public)"),
    ]


@dataclass(frozen=True)
class RetryPolicy:
    """Change-notification delivery: attempts in total and exponential backoff between them."""

    max_attempts: int = 5
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    timeout: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))


@dataclass
class MockConfig:
    host: str = "127.0.0.1"
    port: int = 8800
    seed: int = 7
    accounts: int = 2
    offices_per_account: int = 3
    agents_per_account: int = 8
    contacts_per_account: int = 200
    properties_per_contact: float = 0.6
    epoch: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)
    auto_approve: bool = False
    strict: bool = False
    rate_limit: str = "600/min"
    rate_limit_window: str = "fixed"  # or "sliding"
    access_token_ttl: int = 3600
    code_ttl: int = 60
    refresh_token_ttl: int = 30 * 24 * 3600
    faults: str | None = None
    churn: float = 0.0  # random changes per minute, applied by a background thread
    max_body_bytes: int = 64 * 1024  # the contract: 64 KiB for single-contact operations
    max_batch_body_bytes: int = 5 * 1024 * 1024  # ... and 5 MiB for batches
    clients: list[ClientSpec] = field(default_factory=default_clients)
    notification_retry: RetryPolicy = field(default_factory=RetryPolicy)
    webhook_tolerance_seconds: int = 300
    journal_size: int = 10_000
    defects: frozenset[str] = frozenset()  # planted bugs (`defects.py`), off unless named here
    docs_dir: str | None = "build/docs"  # what `make docs` built, served at /docs/ (relative to the cwd)

    def __post_init__(self) -> None:
        self.defects = defect_switches.parse(self.defects)
