"""The OAuth endpoints a client and a person meet: metadata, authorize (login and consent
pages), token and revoke.

The authorize endpoint is a small state machine over one URL: no agent signed in → the login
page; signed in → the consent page; a POST carries which form was sent (`login`, `logout`, or
the consent `decision`). `--auto-approve` skips both pages for a `login_hint` naming an active
agent, for headless clients. Forms are protected by Flask-WTF's `CSRFProtect` (the token lives
in the session; a fresh one after each sign-in); only these forms are checked — the API, the
token endpoint and the webhooks are not browser forms.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.util import scope_to_list
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from ..config import AGENT_PASSWORD
from .policy import AUTH_METHODS, GRANT_TYPES, explain_scope
from .server import FakeAuthorizationServer, OAuthClient, Revocation

SERVER = "oauth_server"  # app.extensions key of the app's authorization server
SESSION_COOKIE = "agentbuddy_session"
SESSION_AGENT = "oauth_agent_email"

bp = Blueprint("oauth", __name__, template_folder="templates")


def server() -> FakeAuthorizationServer:
    return current_app.extensions[SERVER]


@bp.get("/.well-known/oauth-authorization-server")
def metadata():
    """RFC 8414 metadata, built from the request's own origin so any host/port works."""
    return jsonify({
        "issuer": request.url_root.rstrip("/"),
        "authorization_endpoint": url_for("oauth.authorize", _external=True),
        "token_endpoint": url_for("oauth.token", _external=True),
        "revocation_endpoint": url_for("oauth.revoke", _external=True),
        "scopes_supported": list(server().scopes_supported),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
    })


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    try:
        return _authorize(server())
    except InsecureTransportError as error:
        return _error_page(error.error, _insecure_hint(), 400)


@bp.post("/oauth/token")
def token():
    try:
        return server().create_token_response()
    except InsecureTransportError as error:
        error.description = _insecure_hint()
        return server().handle_error_response(None, error)


@bp.post("/oauth/revoke")
def revoke():
    try:
        return server().create_endpoint_response(Revocation.ENDPOINT_NAME)
    except InsecureTransportError as error:
        error.description = _insecure_hint()
        return server().handle_error_response(None, error)


def _insecure_hint() -> str:
    return ("OAuth needs https or a loopback host (127.0.0.1, [::1], localhost). "
            "To allow plain http elsewhere, start the fake with AUTHLIB_INSECURE_TRANSPORT=1.")


def _authorize(auth: FakeAuthorizationServer):
    agent = auth.active_agent(session.get(SESSION_AGENT))
    try:
        grant = auth.get_consent_grant(end_user=agent)
    except InsecureTransportError:
        raise  # answered with a hint by the view
    except OAuth2Error as error:
        return _authorization_error(auth, error)
    if request.method == "GET":
        return _show(auth, grant, agent)
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError:
        return _error_page("invalid_request",
                           "This form has expired or did not come from this page. Go back, reload it and try again.",
                           400)
    form = request.form.get("form")
    if form == "login":
        return _sign_in(auth, grant)
    if form == "logout":
        session.pop(SESSION_AGENT, None)
        return redirect(request.full_path, code=303)
    if agent is None:  # the session ended between the consent page and the click
        return _login_page(grant, email="")
    decision = request.form.get("decision")
    if decision not in ("allow", "deny"):
        return _error_page("invalid_request", "Choose Allow or Deny.", 400)
    return auth.create_authorization_response(grant_user=agent if decision == "allow" else None, grant=grant)


def _show(auth: FakeAuthorizationServer, grant, agent):
    hint = request.args.get("login_hint", "")
    if auth.state.config.auto_approve:
        hinted = auth.active_agent(hint)
        if hinted is not None:
            return auth.create_authorization_response(grant_user=hinted, grant=grant)
    if agent is None:
        return _login_page(grant, email=hint)
    return _consent_page(auth, grant, agent)


def _sign_in(auth: FakeAuthorizationServer, grant):
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    known = auth.state.find_agent_by_email(email) if email else None
    if known is not None and not known.is_active:
        return _login_page(grant, email=email, error="This agent is deactivated and cannot sign in.")
    if known is None or not secrets.compare_digest(password.encode(), AGENT_PASSWORD.encode()):
        return _login_page(grant, email=email, error="That email and password do not match an AgentBuddy agent.")
    session[SESSION_AGENT] = known.email
    session.pop(current_app.config["WTF_CSRF_FIELD_NAME"], None)  # a fresh CSRF token per signed-in session
    return redirect(request.full_path, code=303)


def _authorization_error(auth: FakeAuthorizationServer, error: OAuth2Error):
    """Redirect only to a redirect URI Authlib has validated for the client; else show a page."""
    if error.redirect_uri:
        return auth.handle_error_response(None, error)
    return _error_page(error.error, error.get_error_description(), 400)


def _client_context(grant) -> dict:
    client: OAuthClient = grant.request.client
    return {
        "client_name": client.name,
        "client_id": client.get_client_id(),
        "return_to": urlsplit(grant.redirect_uri).netloc if grant.redirect_uri else "",
        "action": request.full_path,
    }


def _login_page(grant, email: str, error: str | None = None):
    return _page("oauth/login.html", **_client_context(grant), email=email, error=error)


def _consent_page(auth: FakeAuthorizationServer, grant, agent):
    scopes = [(s, explain_scope(s)) for s in scope_to_list(grant.request.scope) or []]
    return _page("oauth/consent.html", **_client_context(grant), scopes=scopes,
                 agent_name=f"{agent.first_name} {agent.last_name}".strip(), agent_email=agent.email,
                 account_name=_account_name(auth.state, agent.account_id))


def _account_name(state, account_id: str) -> str:
    """The account's display name from the seeded world; its id if the world has no name."""
    accounts = getattr(getattr(state, "world", None), "accounts", None) or {}
    return getattr(accounts.get(account_id), "name", None) or account_id


def _error_page(error: str, description: str, status: int):
    return _page("oauth/error.html", status=status, error=error, description=description)


def _page(template: str, status: int = 200, **context) -> Response:
    response = current_app.make_response((render_template(template, **context), status))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    return response
