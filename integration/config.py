"""Settings of Broadcast's side of the integration, in one dataclass.

Everything that differs between a laptop demo, the test suite and production is here, so
modules receive an `IntegrationConfig` instead of reading the environment themselves.
`from_env()` is the only reader of environment variables.

The Fernet key that encrypts OAuth tokens and webhook secrets at rest is never defaulted: a
missing key is a `MissingTokenKey` error naming `AB_HARNESS_TOKEN_KEY`. Tests and the demo pass
a key explicitly; the CLI creates one under `.harness/` on first use (`load_or_create_key_file`)
and says so.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

TOKEN_KEY_ENV = "AB_HARNESS_TOKEN_KEY"
DEFAULT_DATABASE_URL = "sqlite:///.harness/broadcast.sqlite3"
DEFAULT_KEY_FILE = Path(".harness") / "token.key"

# Scopes Broadcast asks for: read the four entities, write engagement back (Option B).
DEFAULT_SCOPES = (
    "read:offices",
    "read:agents",
    "read:contacts",
    "read:properties",
    "write:engagement",
)


class MissingTokenKey(RuntimeError):
    """Raised when tokens would be stored or read without an encryption key."""

    def __init__(self) -> None:
        super().__init__(
            f"{TOKEN_KEY_ENV} is not set: it must hold a Fernet key that encrypts AgentBuddy "
            "tokens at rest. Create one with `python -c \"from cryptography.fernet import "
            f"Fernet; print(Fernet.generate_key().decode())\"` and export {TOKEN_KEY_ENV}."
        )


@dataclass(frozen=True)
class IntegrationConfig:
    database_url: str = DEFAULT_DATABASE_URL
    # The AgentBuddy origin; the API base is `<agentbuddy_url>/v1` and OAuth endpoints come
    # from `<agentbuddy_url>/.well-known/oauth-authorization-server` (RFC 8414).
    agentbuddy_url: str = "http://127.0.0.1:8800"
    client_id: str = "broadcast-local"
    client_secret: str = "broadcast-local-secret"
    redirect_uri: str = "http://127.0.0.1:8000/integrations/agentbuddy/callback"
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    token_key: str | None = None
    default_organization_id: str = "org_default"

    # Sync
    sync_page_size: int = 500
    sync_overlap_seconds: int = 120
    schedule_interval_seconds: int = 15 * 60
    # Refresh an access token when it has less than this left.
    token_refresh_leeway_seconds: int = 60
    http_timeout_seconds: float = 30.0
    http_max_retries: int = 6
    http_backoff_factor: float = 0.5
    # Standard Webhooks tolerance for AgentBuddy change notifications.
    notification_tolerance_seconds: int = 300

    # Delivery (engagement back to AgentBuddy); the pipeline owns their meaning.
    delivery_mode: str = "webhooks"  # "webhooks" (Option A) or "api" (Option B)
    delivery_batch_size: int = 100
    delivery_interval_seconds: int = 60
    resend_webhook_secret: str | None = None

    extra: dict[str, str] = field(default_factory=dict)

    @property
    def api_base(self) -> str:
        return self.agentbuddy_url.rstrip("/") + "/v1"

    @property
    def metadata_url(self) -> str:
        return self.agentbuddy_url.rstrip("/") + "/.well-known/oauth-authorization-server"

    def require_token_key(self) -> str:
        if not self.token_key:
            raise MissingTokenKey()
        return self.token_key

    def replace(self, **changes: object) -> "IntegrationConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> "IntegrationConfig":
        """Read `AB_HARNESS_*` variables; explicit overrides (CLI options) win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        mapping = {
            "AB_HARNESS_DATABASE_URL": ("database_url", str),
            "AB_HARNESS_AGENTBUDDY_URL": ("agentbuddy_url", str),
            "AB_HARNESS_CLIENT_ID": ("client_id", str),
            "AB_HARNESS_CLIENT_SECRET": ("client_secret", str),
            "AB_HARNESS_REDIRECT_URI": ("redirect_uri", str),
            TOKEN_KEY_ENV: ("token_key", str),
            "AB_HARNESS_ORG": ("default_organization_id", str),
            "AB_HARNESS_SYNC_PAGE_SIZE": ("sync_page_size", int),
            "AB_HARNESS_SYNC_OVERLAP_SECONDS": ("sync_overlap_seconds", int),
            "AB_HARNESS_SCHEDULE_INTERVAL_SECONDS": ("schedule_interval_seconds", int),
            "RESEND_WEBHOOK_SECRET": ("resend_webhook_secret", str),
        }
        for variable, (name, kind) in mapping.items():
            raw = env.get(variable)
            if raw:
                try:
                    values[name] = kind(raw)
                except ValueError as exc:
                    raise ValueError(f"{variable}={raw!r} is not a valid {kind.__name__}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def load_or_create_key_file(path: Path = DEFAULT_KEY_FILE) -> tuple[str, bool]:
    """The CLI's local key: read it, or create it (mode 0600). Returns (key, created)."""
    if path.is_file():
        return path.read_text(encoding="utf-8").strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text(encoding="utf-8").strip(), False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key, True
