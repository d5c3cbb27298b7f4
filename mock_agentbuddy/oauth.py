"""The fake AgentBuddy's OAuth 2.0 authorization server and the guard for its API.

Authlib does the protocol (authorization code grant, refresh grant, PKCE, client
authentication, RFC 7009 revocation, bearer validation); this module only says where codes
and tokens live (`oauth_store`) and what our policy is. The policy is deliberately strict so
that the Broadcast integration is tested against the hardest realistic server:

- PKCE with S256 for every client, confidential or public; `plain` is refused.
- Codes are single-use and live `code_ttl` seconds; replaying one revokes what it issued.
- Redirect URIs match exactly, except that loopback hosts may use any port (RFC 8252 §7.3).
- Refresh tokens rotate on every use; presenting a spent one revokes the whole family.
- Scope = requested ∩ the client's allowed scopes; no scope asked means all of them.
"""
from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InsecureTransportError, InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator, InsufficientScopeError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from .oauth_store import AuthorizationCode, OAuthStore, Token, new_family_id, new_token_id, ttl
from .problems import problem

# --- policy ---------------------------------------------------------------------------------

#: The fake's documented password for every seeded agent.
AGENT_PASSWORD = "agentbuddy"
REALM = "agentbuddy"
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
GRANT_TYPES = ("authorization_code", "refresh_token")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

#: What the consent page tells the agent each scope lets the client do.
SCOPE_EXPLANATIONS = {
    "read:offices": "See your offices: names, addresses and phone numbers.",
    "read:agents": "See the agents in your account: names, emails and which office they work in.",
    "read:contacts": "See your contacts: names, email addresses, phone numbers, addresses, tags and status.",
    "read:properties": "See the properties linked to your contacts.",
    "write:engagement": "Add email engagement, campaign history and seller/buyer propensity scores to your contacts.",
}


def explain_scope(scope: str) -> str:
    return SCOPE_EXPLANATIONS.get(scope, f"Use the AgentBuddy API with the '{scope}' permission.")


def redirect_uri_allowed(requested: str, registered: tuple[str, ...] | list[str]) -> bool:
    """Exact match, or a loopback URI that differs from a registered one only in its port."""
    if requested in registered:
        return True
    try:
        asked = urlsplit(requested)
        asked.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    if asked.hostname not in LOOPBACK_HOSTS or asked.scheme != "http" or asked.username or asked.fragment:
        return False
    for uri in registered:
        known = urlsplit(uri)
        if (known.scheme, known.hostname, known.path, known.query) == (
            asked.scheme, asked.hostname, asked.path, asked.query
        ):
            return True
    return False


def allowed_scope(requested: str | None, client_scopes: tuple[str, ...]) -> str | None:
    """Requested ∩ allowed (all allowed when none requested); None when nothing remains."""
    if not requested:
        return list_to_scope(list(client_scopes)) or None
    granted = [s for s in dict.fromkeys(scope_to_list(requested)) if s in client_scopes]
    return list_to_scope(granted) or None


# --- the grant a protected view sees ----------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """Who is calling: the token's tenant (account), agent, client, connection and scopes."""

    token_id: str
    account_id: str
    agent_id: str
    client_id: str
    connection_id: str
    scopes: frozenset[str]


# --- Authlib storage hooks ----------------------------------------------------------------------


class OAuthClient(ClientMixin):
    """A registered client (`ClientSpec` from the fake's config) as Authlib sees it."""

    def __init__(self, spec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    def get_client_id(self) -> str:
        return self.spec.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = list(self.spec.redirect_uris)
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope):
        return allowed_scope(scope, tuple(self.spec.scopes))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri_allowed(redirect_uri, tuple(self.spec.redirect_uris))

    def check_client_secret(self, client_secret: str) -> bool:
        secret = self.spec.client_secret
        return secret is not None and secrets.compare_digest(secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.spec.client_secret is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class _Server(AuthorizationServer):
    """Authlib's Flask server bound to one fake's state and token store."""

    def __init__(self, app: Flask, state, store: OAuthStore) -> None:
        self.state = state
        self.store = store
        super().__init__(app, query_client=self._find_client, save_token=self._save_token)
        self.scopes_supported = sorted({s for c in state.config.clients for s in c.scopes})
        bearer = BearerTokenGenerator(
            access_token_generator=lambda **_: secrets.token_urlsafe(32),
            refresh_token_generator=lambda **_: secrets.token_urlsafe(48),
            expires_generator=lambda client, grant_type: int(state.config.access_token_ttl),
        )

        def generate(grant_type, client, user=None, **kwargs):
            token = bearer(grant_type, client, user=user, **kwargs)
            token["account_id"] = user.account_id
            return token

        self.register_token_generator("default", generate)

    def _find_client(self, client_id: str) -> OAuthClient | None:
        for spec in self.state.config.clients:
            if spec.client_id == client_id:
                return OAuthClient(spec)
        return None

    def active_agent(self, email: str | None):
        if not email:
            return None
        agent = self.state.find_agent_by_email(email.strip())
        return agent if agent is not None and agent.is_active else None

    def _save_token(self, token: dict, oauth_request) -> None:
        agent, client = oauth_request.user, oauth_request.client
        source = oauth_request.authorization_code or oauth_request.refresh_token
        connection = self.state.connection_for(client.get_client_id(), agent.account_id)
        if connection is None:  # every configured client has one per account; anything else is a bug
            raise RuntimeError(f"no connection for client {client.get_client_id()} and {agent.account_id}")
        now = self.store.now()
        self.store.save_token(Token(
            id=new_token_id(),
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            client_id=client.get_client_id(),
            agent_email=agent.email,
            agent_id=agent.id,
            account_id=agent.account_id,
            connection_id=connection.id,
            scope=token.get("scope", ""),
            family_id=source.family_id,
            issued_at=now,
            expires_at=now + timedelta(seconds=token["expires_in"]),
            refresh_expires_at=ttl(now, self.state.config.refresh_token_ttl),
            now=self.store.now,
        ))


class _S256Only(CodeChallenge):
    """PKCE for every client (Authlib only insists for public ones), and only S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Unsupported code_challenge_method: only S256 is accepted.")
        super().validate_code_challenge(grant, redirect_uri)


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code, oauth_request):
        server: _Server = self.server
        agent, data = oauth_request.user, oauth_request.payload.data
        server.store.save_code(AuthorizationCode(
            code=code,
            client_id=oauth_request.client.get_client_id(),
            redirect_uri=oauth_request.payload.redirect_uri,
            scope=oauth_request.scope,
            agent_email=agent.email,
            agent_id=agent.id,
            account_id=agent.account_id,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            expires_at=ttl(server.store.now(), server.state.config.code_ttl),
            family_id=new_family_id(),
        ))

    def query_authorization_code(self, code, client):
        store: OAuthStore = self.server.store
        record = store.find_code(code)
        if record is None or record.client_id != client.get_client_id():
            return None
        if record.used:  # RFC 6749 §4.1.2: a replayed code revokes what it issued
            store.revoke_family(record.family_id)
            return None
        return None if store.code_expired(record) else record

    def delete_authorization_code(self, authorization_code):
        store: OAuthStore = self.server.store
        if not store.consume_code(authorization_code.code):  # lost a race with a replay
            store.revoke_family(authorization_code.family_id)
            raise InvalidGrantError("The authorization code was already used.")

    def authenticate_user(self, authorization_code):
        return self.server.active_agent(authorization_code.agent_email)


class _RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        store: OAuthStore = self.server.store
        token = store.find_refresh_token(refresh_token)
        if token is None or not token.check_client(self.request.client):
            return None
        if token.rotated:  # reuse of a spent refresh token: assume it leaked
            store.revoke_family(token.family_id)
            return None
        return token if token.refresh_usable() else None

    def authenticate_user(self, refresh_token):
        return self.server.active_agent(refresh_token.agent_email)

    def revoke_old_credential(self, refresh_token):
        store: OAuthStore = self.server.store
        if not store.rotate(refresh_token):  # lost a race with a concurrent refresh
            store.revoke_family(refresh_token.family_id)
            raise InvalidGrantError("The refresh token was already used.")


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        store: OAuthStore = self.server.store
        lookups = [store.find_access_token, store.find_refresh_token]
        if token_type_hint == "refresh_token":
            lookups.reverse()
        for lookup in lookups:
            token = lookup(token_string)
            if token is not None:
                return token
        return None

    def revoke_token(self, token, oauth_request):
        store: OAuthStore = self.server.store
        if token.refresh_token == oauth_request.form["token"]:
            store.revoke_family(token.family_id)  # RFC 7009 §2.1: its access tokens go too
        else:
            store.revoke_access_token(token)


class _AccessTokenValidator(BearerTokenValidator):
    def __init__(self, store: OAuthStore) -> None:
        super().__init__(realm=REALM)
        self.store = store

    def authenticate_token(self, token_string):
        return self.store.find_access_token(token_string)


# --- wiring -------------------------------------------------------------------------------------


def init_oauth(app: Flask, state) -> None:
    """Mount the authorization server on `app`; `require_scope` then guards its API views."""
    if not app.secret_key:
        app.secret_key = secrets.token_urlsafe(32)
    if app.config.get("SESSION_COOKIE_NAME", "session") == "session":
        # Browsers share cookies across ports: on 127.0.0.1 Broadcast's own Flask "session"
        # cookie would be overwritten mid-flow and its OAuth state lost.
        app.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE
    store = OAuthStore(state.clock.now)
    server = _Server(app, state, store)
    server.register_grant(_AuthorizationCodeGrant, [_S256Only(required=True)])
    server.register_grant(_RefreshTokenGrant)
    server.register_endpoint(_Revocation)
    protector = ResourceProtector()
    protector.register_token_validator(_AccessTokenValidator(store))
    app.extensions["oauth_store"] = store
    app.extensions["oauth_server"] = server
    app.extensions["oauth_protector"] = protector
    app.register_blueprint(_blueprint(server))


def require_scope(scope: str):
    """Guard a view: a live bearer token carrying `scope`, exposed to the view as `g.grant`.

    `require_scope("")` asks for any live token, whatever its scopes (e.g. "who am I").
    """

    def decorator(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            protector: ResourceProtector = current_app.extensions["oauth_protector"]
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



# --- endpoints ----------------------------------------------------------------------------------

SESSION_COOKIE = "agentbuddy_session"
SESSION_AGENT = "oauth_agent_email"
SESSION_CSRF = "oauth_csrf"


def _blueprint(server: _Server) -> Blueprint:
    bp = Blueprint("oauth", __name__, template_folder="templates")

    @bp.get("/.well-known/oauth-authorization-server")
    def metadata():
        return jsonify(_metadata(server))

    @bp.route("/oauth/authorize", methods=["GET", "POST"])
    def authorize():
        try:
            return _authorize(server)
        except InsecureTransportError as error:
            return _error_page(error.error, _insecure_hint(), 400)

    @bp.post("/oauth/token")
    def token():
        try:
            return server.create_token_response()
        except InsecureTransportError as error:
            error.description = _insecure_hint()
            return server.handle_error_response(None, error)

    @bp.post("/oauth/revoke")
    def revoke():
        try:
            return server.create_endpoint_response(_Revocation.ENDPOINT_NAME)
        except InsecureTransportError as error:
            error.description = _insecure_hint()
            return server.handle_error_response(None, error)

    return bp


def _insecure_hint() -> str:
    return ("OAuth needs https or a loopback host (127.0.0.1, [::1], localhost). "
            "To allow plain http elsewhere, start the fake with AUTHLIB_INSECURE_TRANSPORT=1.")


def _metadata(server: _Server) -> dict:
    """RFC 8414 metadata, built from the request's own origin so any host/port works."""
    return {
        "issuer": request.url_root.rstrip("/"),
        "authorization_endpoint": url_for("oauth.authorize", _external=True),
        "token_endpoint": url_for("oauth.token", _external=True),
        "revocation_endpoint": url_for("oauth.revoke", _external=True),
        "scopes_supported": list(server.scopes_supported),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
    }


def _authorize(server: _Server):
    agent = server.active_agent(session.get(SESSION_AGENT))
    try:
        grant = server.get_consent_grant(end_user=agent)
    except InsecureTransportError:
        raise  # answered with a hint by the view
    except OAuth2Error as error:
        return _authorization_error(server, error)
    if request.method == "GET":
        return _show(server, grant, agent)
    if not _csrf_valid():
        return _error_page("invalid_request",
                           "This form has expired or did not come from this page. Go back, reload it and try again.",
                           400)
    form = request.form.get("form")
    if form == "login":
        return _sign_in(server, grant)
    if form == "logout":
        session.pop(SESSION_AGENT, None)
        return redirect(request.full_path, code=303)
    if agent is None:  # the session ended between the consent page and the click
        return _login_page(server, grant, email="")
    decision = request.form.get("decision")
    if decision not in ("allow", "deny"):
        return _error_page("invalid_request", "Choose Allow or Deny.", 400)
    return server.create_authorization_response(grant_user=agent if decision == "allow" else None, grant=grant)


def _show(server: _Server, grant, agent):
    hint = request.args.get("login_hint", "")
    if server.state.config.auto_approve:
        hinted = server.active_agent(hint)
        if hinted is not None:
            return server.create_authorization_response(grant_user=hinted, grant=grant)
    if agent is None:
        return _login_page(server, grant, email=hint)
    return _consent_page(server, grant, agent)


def _sign_in(server: _Server, grant):
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    known = server.state.find_agent_by_email(email) if email else None
    if known is not None and not known.is_active:
        return _login_page(server, grant, email=email, error="This agent is deactivated and cannot sign in.")
    if known is None or not secrets.compare_digest(password.encode(), AGENT_PASSWORD.encode()):
        return _login_page(server, grant, email=email, error="That email and password do not match an AgentBuddy agent.")
    session[SESSION_AGENT] = known.email
    session[SESSION_CSRF] = secrets.token_urlsafe(32)  # a fresh token per signed-in session
    return redirect(request.full_path, code=303)


def _authorization_error(server: _Server, error: OAuth2Error):
    """Redirect only to a redirect URI Authlib has validated for the client; else show a page."""
    if error.redirect_uri:
        return server.handle_error_response(None, error)
    return _error_page(error.error, error.get_error_description(), 400)


def _csrf_token() -> str:
    token = session.get(SESSION_CSRF)
    if not token:
        token = session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return token


def _csrf_valid() -> bool:
    expected = session.get(SESSION_CSRF, "")
    sent = request.form.get("csrf_token", "")
    return bool(expected) and secrets.compare_digest(expected.encode(), sent.encode())


def _client_context(grant) -> dict:
    client: OAuthClient = grant.request.client
    return {
        "client_name": client.name,
        "client_id": client.get_client_id(),
        "return_to": urlsplit(grant.redirect_uri).netloc if grant.redirect_uri else "",
        "action": request.full_path,
        "csrf_token": _csrf_token(),
    }


def _login_page(server: _Server, grant, email: str, error: str | None = None):
    return _page("login.html", **_client_context(grant), email=email, error=error)


def _consent_page(server: _Server, grant, agent):
    scopes = [(s, explain_scope(s)) for s in scope_to_list(grant.request.scope) or []]
    return _page("consent.html", **_client_context(grant), scopes=scopes,
                 agent_name=f"{agent.first_name} {agent.last_name}".strip(), agent_email=agent.email,
                 account_name=_account_name(server.state, agent.account_id))


def _account_name(state, account_id: str) -> str:
    """The account's display name from the seeded world; its id if the world has no name."""
    accounts = getattr(getattr(state, "world", None), "accounts", None) or {}
    return getattr(accounts.get(account_id), "name", None) or account_id


def _error_page(error: str, description: str, status: int):
    return _page("oauth_error.html", status=status, error=error, description=description)


def _page(template: str, status: int = 200, **context) -> Response:
    response = current_app.make_response((render_template(template, **context), status))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    return response
