"""Where the fake's OAuth server keeps its authorization codes and tokens.

The fake serves threaded, and code exchange and refresh rotation are races by nature (two
requests presenting the same code or refresh token at once), so every read-modify-write goes
through one lock and the "consume" operations are atomic: exactly one caller wins, and the
loser learns it lost so the server can treat it as reuse.

A *family* is everything issued from one authorization (one code): the first token pair and
every pair rotated from it. Reuse of a spent code or refresh token revokes the family.

Expiry is judged against the injected clock (`now`), never wall time, so tests and the admin
clock can fast-forward past a token's lifetime.
"""
from __future__ import annotations

import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

Now = Callable[[], datetime]


@dataclass
class AuthorizationCode:
    """An issued code; kept after use so that a replay can be recognised and punished."""

    code: str
    client_id: str
    redirect_uri: str | None  # as sent in the authorization request (None if it was omitted)
    scope: str
    agent_email: str
    agent_id: str
    account_id: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: datetime
    family_id: str
    used: bool = False

    # authlib.oauth2.rfc6749.AuthorizationCodeMixin
    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token:
    """One access/refresh pair. `rotated` marks a refresh token spent by a refresh request."""

    id: str
    access_token: str
    refresh_token: str | None
    client_id: str
    agent_email: str
    agent_id: str
    account_id: str
    connection_id: str
    scope: str
    family_id: str
    issued_at: datetime
    expires_at: datetime
    refresh_expires_at: datetime
    now: Now = field(repr=False, compare=False)
    access_revoked: bool = False
    refresh_revoked: bool = False
    rotated: bool = False

    # authlib.oauth2.rfc6749.TokenMixin
    def check_client(self, client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.now() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.access_revoked

    def refresh_usable(self) -> bool:
        return not (self.refresh_revoked or self.rotated) and self.now() < self.refresh_expires_at


class OAuthStore:
    """In-memory codes and tokens of one fake instance, guarded by one lock."""

    def __init__(self, now: Now) -> None:
        self.now = now
        self._lock = threading.RLock()
        self._codes: dict[str, AuthorizationCode] = {}
        self._by_access: dict[str, Token] = {}
        self._by_refresh: dict[str, Token] = {}

    def reset(self) -> None:
        """Forget every code and token (the admin reset): all clients must authorize again."""
        with self._lock:
            self._codes.clear()
            self._by_access.clear()
            self._by_refresh.clear()

    # --- codes -----------------------------------------------------------------------------

    def save_code(self, code: AuthorizationCode) -> None:
        with self._lock:
            self._codes[code.code] = code

    def find_code(self, code: str) -> AuthorizationCode | None:
        with self._lock:
            return self._codes.get(code)

    def consume_code(self, code: str) -> bool:
        """Mark a code used; False if another request already used it (a replay race)."""
        with self._lock:
            record = self._codes.get(code)
            if record is None or record.used:
                return False
            record.used = True
            return True

    def code_expired(self, code: AuthorizationCode) -> bool:
        return self.now() >= code.expires_at

    # --- tokens ----------------------------------------------------------------------------

    def save_token(self, token: Token) -> None:
        with self._lock:
            self._by_access[token.access_token] = token
            if token.refresh_token:
                self._by_refresh[token.refresh_token] = token

    def find_access_token(self, access_token: str) -> Token | None:
        with self._lock:
            return self._by_access.get(access_token)

    def find_refresh_token(self, refresh_token: str) -> Token | None:
        with self._lock:
            return self._by_refresh.get(refresh_token)

    def rotate(self, token: Token) -> bool:
        """Spend a refresh token; False if it was already spent or revoked (reuse)."""
        with self._lock:
            if token.rotated or token.refresh_revoked:
                return False
            token.rotated = True
            return True

    def revoke_access_token(self, token: Token) -> None:
        with self._lock:
            token.access_revoked = True

    def revoke_family(self, family_id: str) -> int:
        """Revoke every access and refresh token issued from one authorization."""
        with self._lock:
            hit = [t for t in self._by_access.values() if t.family_id == family_id]
            for token in hit:
                token.access_revoked = True
                token.refresh_revoked = True
            return len(hit)

    # --- admin -----------------------------------------------------------------------------

    def token_summary(self) -> dict:
        """Counts for the admin world view; never the token strings themselves."""
        with self._lock:
            now = self.now()
            codes = Counter(
                "used" if c.used else "expired" if now >= c.expires_at else "pending"
                for c in self._codes.values()
            )
            access = Counter(
                "revoked" if t.access_revoked else "expired" if now >= t.expires_at else "active"
                for t in self._by_access.values()
            )
            refresh = Counter(
                "revoked" if t.refresh_revoked else "rotated" if t.rotated
                else "expired" if now >= t.refresh_expires_at else "active"
                for t in self._by_refresh.values()
            )
            families = {t.family_id for t in self._by_access.values()}
            active_families = {
                t.family_id for t in self._by_access.values()
                if not t.access_revoked and now < t.expires_at
            }
            return {
                "authorization_codes": {k: codes.get(k, 0) for k in ("pending", "used", "expired")},
                "access_tokens": {k: access.get(k, 0) for k in ("active", "expired", "revoked")},
                "refresh_tokens": {k: refresh.get(k, 0) for k in ("active", "rotated", "expired", "revoked")},
                "grants": {"total": len(families), "with_active_access_token": len(active_families)},
            }


def new_family_id() -> str:
    return "fam_" + secrets.token_urlsafe(12)


def new_token_id() -> str:
    return "tok_" + secrets.token_urlsafe(12)


def ttl(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
