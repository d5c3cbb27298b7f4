"""Secrets at rest: OAuth tokens and webhook signing secrets are stored as Fernet tokens.

A database dump alone must not let anyone call AgentBuddy as one of our customers, so the key
lives outside the database (`AB_HARNESS_TOKEN_KEY`). Several keys may be given, separated by
commas, newest first: values are encrypted with the first and decrypted with any (key rotation,
via `cryptography`'s MultiFernet).
"""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretsError(RuntimeError):
    """A stored secret cannot be decrypted with the configured key(s)."""


class SecretBox:
    def __init__(self, key: str) -> None:
        keys = [part.strip() for part in key.split(",") if part.strip()]
        if not keys:
            raise ValueError("empty token key")
        try:
            self._fernet = MultiFernet([Fernet(part.encode("ascii")) for part in keys])
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "the token key must be a Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with Fernet.generate_key()"
            ) from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SecretsError(
                "a stored secret could not be decrypted: AB_HARNESS_TOKEN_KEY differs from the key "
                "it was stored with (reconnect, or add the old key after the new one, comma-separated)"
            ) from exc

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext)

    def decrypt_optional(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

    def rotate(self, token: str) -> str:
        """Re-encrypt a stored value under the newest key."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")
