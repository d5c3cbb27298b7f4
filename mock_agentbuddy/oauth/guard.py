"""The API's guard: a live bearer token with the operation's scope, or a precise refusal.

Views see who is calling as `g.grant` — the token's tenant (account), agent, client,
connection and scopes — and never the token itself. The scope each operation needs is the
views' business (`require_scope("read:contacts")`); Authlib's `ResourceProtector` checks it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import InsufficientScopeError
from flask import current_app, g, request

from common.timestamps import format_rfc3339

from ..defects import SCOPE_NOT_ENFORCED, UNENFORCED_SCOPE
from ..responses import problem
from .pages import SERVER
from .policy import REALM
from .store import Token

PROTECTOR = "oauth_protector"  # app.extensions key of the app's ResourceProtector


@dataclass(frozen=True)
class Grant:
    """Who is calling: the token's tenant (account), agent, client, connection and scopes."""

    token_id: str
    account_id: str
    agent_id: str
    client_id: str
    connection_id: str
    scopes: frozenset[str]


def require_scope(scope: str):
    """Guard a view: a live bearer token carrying `scope`, exposed to the view as `g.grant`.

    `require_scope("")` asks for any live token, whatever its scopes (e.g. "who am I").
    """

    def decorator(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            protector: ResourceProtector = current_app.extensions[PROTECTOR]
            try:
                token: Token = protector.acquire_token(_required(scope))
            except InsufficientScopeError:
                g.refused = {**_refused_token(), "reason": "insufficient_scope", "scope": scope}
                return _insufficient_scope(scope)
            except OAuth2Error:
                g.refused = _refused_token()
                return _invalid_token(sent=g.refused["reason"] != "missing")
            g.grant = Grant(
                token_id=token.id,
                account_id=token.account_id,
                agent_id=token.agent_id,
                client_id=token.client_id,
                connection_id=token.connection_id,
                scopes=frozenset(scope_to_list(token.scope) or ()),
            )
            return view(*args, **kwargs)

        return guarded

    return decorator


def _required(scope: str) -> list[str]:
    """The scopes the token must carry: `scope`, unless the defect scope-not-enforced forgets it."""
    if scope == UNENFORCED_SCOPE and SCOPE_NOT_ENFORCED in current_app.extensions[SERVER].state.config.defects:
        return []
    return [scope]


def _refused_token() -> dict:
    """Why the bearer token was refused and whose it was, for the journal: the verdict on a
    client tells a token used after its expiry from one it never had."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return {"reason": "missing"}
    token: Token | None = current_app.extensions[SERVER].store.find_access_token(value.strip())
    if token is None:
        return {"reason": "unknown"}
    reason = "revoked" if token.access_revoked else "expired" if token.is_expired() else "invalid"
    return {"reason": reason, "client_id": token.client_id, "account_id": token.account_id,
            "expires_at": format_rfc3339(token.expires_at)}


def _invalid_token(sent: bool):
    """`sent`: the request carried a bearer token. RFC 6750 §3.1: a request without any
    (or with another scheme) gets a bare challenge, with no error code."""
    response = problem(401, "invalid_token", "Invalid access token",
                       "Send a valid, unexpired, unrevoked bearer token in the Authorization header.")
    error = ', error="invalid_token"' if sent else ""
    response.headers["WWW-Authenticate"] = f'Bearer realm="{REALM}"{error}'
    return response


def _insufficient_scope(scope: str):
    response = problem(403, "insufficient_scope", "Insufficient scope",
                       f"This operation needs the '{scope}' scope, which the access token does not carry.")
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
    )
    return response
