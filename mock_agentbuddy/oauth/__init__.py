"""The fake AgentBuddy's OAuth 2.0 authorization server and the guard for its API.

Authlib does the protocol; what is ours is policy and storage, one module each:

- `policy`  — redirect URI matching, scope intersection, the scope explanations;
- `store`   — codes and tokens in memory, with atomic consume/rotate and token families;
- `server`  — Authlib's server with our storage hooks and strict grants (PKCE S256 for all,
              single-use codes, rotating refresh tokens, RFC 7009 revocation);
- `guard`   — `require_scope(scope)` for API views, exposing `g.grant`;
- `pages`   — the endpoints and the login/consent pages (CSRF-protected forms).

`init_oauth(app, state)` mounts it all on an app. `state` is anything with `config`, `clock`,
`find_agent_by_email` and `connection_for` — the fake's `MockState`, or a stand-in in tests —
so this package imports nothing of the fake but `config` and `responses`.
"""
from __future__ import annotations

import secrets

from authlib.integrations.flask_oauth2 import ResourceProtector
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from .guard import PROTECTOR, Grant, require_scope
from .pages import SERVER, SESSION_COOKIE, bp
from .policy import redirect_uri_allowed
from .server import AccessTokenValidator, FakeAuthorizationServer
from .store import OAuthStore

__all__ = ["init_oauth", "require_scope", "Grant", "redirect_uri_allowed", "STORE"]

STORE = "oauth_store"  # app.extensions key of the app's token store (the admin reset clears it)


def init_oauth(app: Flask, state) -> None:
    """Mount the authorization server on `app`; `require_scope` then guards its API views."""
    if not app.secret_key:
        app.secret_key = secrets.token_urlsafe(32)
    if app.config.get("SESSION_COOKIE_NAME", "session") == "session":
        # Browsers share cookies across ports: on 127.0.0.1 Broadcast's own Flask "session"
        # cookie would be overwritten mid-flow and its OAuth state lost.
        app.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE
    # Only the login/consent forms are checked (pages.py calls protect()); a token lives as long
    # as the session, as a form left open in a tab should, and no wall clock judges it.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    if "csrf" not in app.extensions:
        CSRFProtect(app)
    store = OAuthStore(state.clock.now)
    protector = ResourceProtector()
    protector.register_token_validator(AccessTokenValidator(store))
    app.extensions[STORE] = store
    app.extensions[SERVER] = FakeAuthorizationServer(app, state, store)
    app.extensions[PROTECTOR] = protector
    app.register_blueprint(bp)
