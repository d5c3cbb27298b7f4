"""The kit's credentials for one run, as a partner has them, and the tokens it makes from them.

What the kit can do depends on what it was given: a client and a way through the authorization
endpoint (headless `login_hint` or a browser) lets it authorize anew for every check; a refresh
token lets it refresh for fresh access tokens; a bare `--token` is used as it is. Against the
fake, the admin API's world summary supplies a client and agents of two accounts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import oauth_flow
from .model import KitError, Skip
from .oauth_flow import Client, HeadlessAuthorizer, InteractiveAuthorizer, Tokens
from .probe import Probe
from .state import confidential_client, first_login


@dataclass
class Credentials:
    probe: Probe
    metadata: dict[str, Any] | None  # RFC 8414 metadata, when the server serves it
    client: Client | None = None
    authorizer: HeadlessAuthorizer | InteractiveAuthorizer | None = None
    main: Tokens | None = None  # the run's first token
    other_token: str | None = None
    other_hint: str | None = None
    _latest_refresh: str | None = None

    @classmethod
    def gather(cls, probe: Probe, options, scopes: list[str], world: dict | None) -> "Credentials":
        """What the options (and the fake's world, when there is one) give the kit."""
        reply = probe.get("/.well-known/oauth-authorization-server")
        metadata = reply.json if reply.status == 200 and isinstance(reply.json, dict) else None
        credentials = cls(probe, metadata, other_token=options.other_token, other_hint=options.other_login_hint)
        client_id, secret = options.client_id, options.client_secret
        if client_id is None and world is not None and (found := confidential_client(world)):
            client_id, secret = found
        if client_id:
            credentials.client = Client(client_id, secret, options.redirect_uri, " ".join(scopes))
        hint = options.login_hint
        if world is not None and not (hint or options.interactive or options.token or options.refresh_token):
            hint = (first_login(world) or (None, None))[1]
        if credentials.client and metadata:
            if options.interactive:
                credentials.authorizer = InteractiveAuthorizer(timeout=options.interactive_timeout)
            elif hint:
                credentials.authorizer = HeadlessAuthorizer(probe, hint)
        return credentials

    def first_token(self, options) -> Tokens:
        if not (options.token or options.refresh_token) and self.authorizer is None:
            if self.metadata is None:
                raise KitError(f"{self.probe.base_url} serves no OAuth metadata at "
                               "/.well-known/oauth-authorization-server; give the kit a --token.")
            raise KitError("The kit has no way to get a token: give --client-id (and --client-secret) with "
                           "--login-hint or --interactive, or give --token.")
        self._latest_refresh = options.refresh_token
        if options.token:
            self.main = Tokens(options.token, options.refresh_token, None, ())
        elif options.refresh_token:
            self.main = self._refreshed("the --refresh-token")
        else:
            self.main = self.authorize_tokens(purpose="the run's first token")
            self._latest_refresh = self.main.refresh_token
        return self.main

    def meet_second_account(self, world: dict | None, account_id: str | None) -> None:
        if self.other_hint is None and self.other_token is None and world is not None:
            self.other_hint = (first_login(world, skip_account=account_id) or (None, None))[1]

    @property
    def can_authorize(self) -> bool:
        return self.authorizer is not None and self.client is not None and self.metadata is not None

    def endpoint(self, name: str) -> str:
        if not self.metadata or not self.metadata.get(name):
            raise Skip(f"the OAuth metadata names no {name}")
        return self.metadata[name]

    def authorize_tokens(self, scope: str | None = None, hint: str | None = None, purpose: str = "a token") -> Tokens:
        """A whole authorization (code + PKCE S256) ending in tokens; KitError if it cannot."""
        authorizer = self.authorizer if hint is None else HeadlessAuthorizer(self.probe, hint)
        attempt = oauth_flow.start(self.probe, authorizer, self.endpoint("authorization_endpoint"), self.client,
                                   scope=scope)
        if attempt.code is None:
            status = attempt.reply.status if attempt.reply is not None else "no answer"
            error = attempt.params.get("error")
            raise KitError(f"The authorization endpoint gave no code for {purpose} "
                           f"({'error ' + error if error else status}); with --login-hint the server must "
                           "approve at once (the fake's --auto-approve), otherwise use --interactive.")
        reply = oauth_flow.exchange_code(self.probe, self.endpoint("token_endpoint"), self.client, attempt)
        if reply.status != 200 or not isinstance(reply.json, dict) or "access_token" not in reply.json:
            raise KitError(f"The token endpoint refused the kit's client for {purpose}: {reply.status} "
                           f"{_error_of(reply)}".rstrip() + " (check --client-id and --client-secret).")
        return Tokens.from_reply(reply, scope or self.client.scope)

    def _refreshed(self, what: str) -> Tokens:
        if self.client is None or self.metadata is None:
            raise KitError(f"Refreshing {what} needs --client-id (and --client-secret) and OAuth metadata.")
        reply = oauth_flow.refresh(self.probe, self.endpoint("token_endpoint"), self.client, self._latest_refresh)
        if reply.status != 200 or not isinstance(reply.json, dict) or "access_token" not in reply.json:
            raise KitError(f"The token endpoint refused {what}: {reply.status} {_error_of(reply)}".rstrip() + ".")
        tokens = Tokens.from_reply(reply, self.client.scope)
        self._latest_refresh = tokens.refresh_token or self._latest_refresh
        return tokens

    def fresh_access_token(self) -> str:
        """A token no other check has used, when the kit can make one; else the run's token.
        A browser is asked only when neither a headless authorization nor a refresh can do."""
        if isinstance(self.authorizer, HeadlessAuthorizer):
            return self.authorize_tokens().access_token
        if self._latest_refresh and self.client is not None:
            return self._refreshed("the run's refresh token").access_token
        if self.authorizer is not None:
            return self.authorize_tokens().access_token
        return self.main.access_token

    def other_account_token(self) -> str | None:
        if self.other_token is None and self.other_hint and self.client is not None and self.metadata is not None:
            self.other_token = self.authorize_tokens(hint=self.other_hint,
                                                     purpose=f"the second account ({self.other_hint})").access_token
        return self.other_token

    def close(self) -> None:
        if isinstance(self.authorizer, InteractiveAuthorizer):
            self.authorizer.close()


def _error_of(reply) -> str:
    return str(reply.json.get("error", "")) if isinstance(reply.json, dict) else ""
