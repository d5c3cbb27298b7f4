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
from flask import current_app, g

from ..responses import problem
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
                token: Token = protector.acquire_token([scope])
            except InsufficientScopeError:
                return _insufficient_scope(scope)
            except OAuth2Error:
                return _invalid_token()
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


def _invalid_token():
    response = problem(401, "invalid_token", "Invalid access token",
                       "Send a valid, unexpired, unrevoked bearer token in the Authorization header.")
    response.headers["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="invalid_token"'
    return response


def _insufficient_scope(scope: str):
    response = problem(403, "insufficient_scope", "Insufficient scope",
                       f"This operation needs the '{scope}' scope, which the access token does not carry.")
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
    )
    return response
