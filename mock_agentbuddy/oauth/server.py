"""Authlib's authorization server, told only where codes and tokens live and who may sign in.

The grant subclasses are a few lines each: Authlib does the protocol (authorization code grant,
refresh grant, PKCE, client authentication, RFC 7009 revocation, bearer validation), we supply
the storage hooks (`store`) and the rules that make this server strict:

- PKCE with S256 for every client, confidential or public; `plain` is refused.
- Codes are single-use and live `code_ttl` seconds; replaying one revokes what it issued.
- Refresh tokens rotate on every use; presenting a spent one revokes the whole family.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask

from .policy import AUTH_METHODS, GRANT_TYPES, REALM, allowed_scope, redirect_uri_allowed
from .store import AuthorizationCode, OAuthStore, Token, new_family_id, new_token_id, ttl


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


class FakeAuthorizationServer(AuthorizationServer):
    """Authlib's Flask server bound to one fake's state and token store.

    `state` is anything with `config`, `clock`, `find_agent_by_email` and `connection_for`
    (the fake's `MockState`; a small stand-in in the OAuth tests)."""

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
        self.register_grant(_AuthorizationCodeGrant, [_S256Only(required=True)])
        self.register_grant(_RefreshTokenGrant)
        self.register_endpoint(Revocation)

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
        server: FakeAuthorizationServer = self.server
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


class Revocation(RevocationEndpoint):
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


class AccessTokenValidator(BearerTokenValidator):
    def __init__(self, store: OAuthStore) -> None:
        super().__init__(realm=REALM)
        self.store = store

    def authenticate_token(self, token_string):
        return self.store.find_access_token(token_string)
