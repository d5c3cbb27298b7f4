"""The server under test and everything the kit knows or can do there, for the whole run.

`Target.open(options)` reaches the server, finds what it may use (client credentials, a way to
authorize, the fake's admin API or a state hook, a second account) and gets the run's first
token; anything wrong there is a `KitError` (one sentence, the run does not start).

`CheckContext` is what one check sees: fresh tokens (so a check never inherits another's spent
rate limit or revoked family), its own contact to write on, the server's clock, and `need_*`
guards that turn a missing capability into a skip that says what to give the kit.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import oauth_flow
from .model import Fail, KitError, Skip
from .oauth_flow import Client, HeadlessAuthorizer, InteractiveAuthorizer, Tokens
from .probe import Probe, Reply, Unreachable
from .schema import ContractView
from .state import Changer, FakeAdmin, StateHook, confidential_client, first_login

DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"


@dataclass
class Options:
    """The command line, as data (tests build it directly)."""

    url: str
    contract: Path
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str = DEFAULT_REDIRECT_URI
    login_hint: str | None = None
    interactive: bool = False
    interactive_timeout: float = 300.0
    token: str | None = None
    refresh_token: str | None = None
    other_login_hint: str | None = None
    other_token: str | None = None
    state_hook: str | None = None
    use_admin: bool = True
    timeout: float = 15.0
    notification_timeout: float = 30.0
    receiver_url: str | None = None  # public base URL forwarding to the kit's inbox (a tunnel)
    receiver_port: int = 0


@dataclass
class Target:
    options: Options
    probe: Probe
    contract: ContractView
    metadata: dict[str, Any] | None = None
    client: Client | None = None
    authorizer: Any = None  # HeadlessAuthorizer | InteractiveAuthorizer | None
    admin: FakeAdmin | None = None
    changer: Changer | None = None
    connection: dict[str, Any] = field(default_factory=dict)
    main: Tokens | None = None
    other_token: str | None = None
    other_hint: str | None = None
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    _world: dict[str, Any] | None = None
    _latest_refresh: str | None = None
    _shared_contact: str | None = None
    _last_instant: datetime | None = None

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, options: Options) -> "Target":
        url = options.url.rstrip("/")
        if url.endswith("/v1"):
            url = url[:-3]
        probe = Probe(url, timeout=options.timeout)
        target = cls(options, probe, ContractView.load(options.contract))
        try:
            target._discover()
            target._authenticate()
            target._meet_account()
        except Unreachable as error:
            raise KitError(f"Cannot reach {url}: {error.exchange.error}.") from None
        return target

    @property
    def api_url(self) -> str:
        return f"{self.probe.base_url}/v1"

    def _discover(self) -> None:
        opts = self.options
        world = FakeAdmin.detect(self.probe) if opts.use_admin else None
        reply = self.probe.get("/.well-known/oauth-authorization-server")
        self.metadata = reply.json if reply.status == 200 and isinstance(reply.json, dict) else None
        client_id, secret = opts.client_id, opts.client_secret
        if world is not None:
            self.admin = FakeAdmin(self.probe)
            if client_id is None and (found := confidential_client(world)):
                client_id, secret = found
        if client_id:
            scope = " ".join(self.contract.scopes())
            self.client = Client(client_id, secret, opts.redirect_uri, scope)
        hint = opts.login_hint
        if world is not None and not (hint or opts.interactive or opts.token or opts.refresh_token):
            hint = (first_login(world) or (None, None))[1]
        if self.client and self.metadata:
            if opts.interactive:
                self.authorizer = InteractiveAuthorizer(timeout=opts.interactive_timeout)
            elif hint:
                self.authorizer = HeadlessAuthorizer(self.probe, hint)
        self._world = world

    def _authenticate(self) -> None:
        opts = self.options
        if (opts.token or opts.refresh_token) is None and self.authorizer is None:
            if self.metadata is None and not opts.token:
                raise KitError(f"{self.probe.base_url} serves no OAuth metadata at "
                               "/.well-known/oauth-authorization-server; give the kit a --token.")
            raise KitError("The kit has no way to get a token: give --client-id (and --client-secret) with "
                           "--login-hint or --interactive, or give --token.")
        self._latest_refresh = opts.refresh_token
        if opts.token:
            self.main = Tokens(opts.token, opts.refresh_token, None, ())
        elif opts.refresh_token:
            self.main = self._refreshed("the --refresh-token")
        else:
            self.main = self.authorize_tokens(purpose="the run's first token")
            self._latest_refresh = self.main.refresh_token

    def _meet_account(self) -> None:
        reply = self.probe.get("/v1/connection", token=self.main.access_token)
        if reply.status in (401, 403):
            raise KitError(f"The server refused the kit's access token: GET /v1/connection answered "
                           f"{reply.status} {reply.problem_code or ''}".rstrip() + ".")
        if reply.status != 200 or not isinstance(reply.json, dict):
            raise KitError(f"GET /v1/connection answered {reply.status}; the kit needs it to learn the account "
                           "and the webhook secret.")
        self.connection = reply.json
        account_id = (self.connection.get("account") or {}).get("id")
        if self.admin is not None:
            self.admin.account_id = account_id
            self.changer = self.admin
        if self.options.state_hook:
            self.changer = StateHook(self.options.state_hook,
                                     {"AB_KIT_URL": self.probe.base_url, "AB_KIT_ACCOUNT_ID": account_id or ""})
        self.other_token = self.options.other_token
        self.other_hint = self.options.other_login_hint
        if self.other_hint is None and self.other_token is None and self._world is not None:
            self.other_hint = (first_login(self._world, skip_account=account_id) or (None, None))[1]

    # -- tokens --------------------------------------------------------------------------
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
            body = reply.json if isinstance(reply.json, dict) else {}
            raise KitError(f"The token endpoint refused the kit's client for {purpose}: {reply.status} "
                           f"{body.get('error', '')}".rstrip() + " (check --client-id and --client-secret).")
        return Tokens.from_reply(reply, scope or self.client.scope)

    def _refreshed(self, what: str) -> Tokens:
        if self.client is None or self.metadata is None:
            raise KitError(f"Refreshing {what} needs --client-id (and --client-secret) and OAuth metadata.")
        reply = oauth_flow.refresh(self.probe, self.endpoint("token_endpoint"), self.client, self._latest_refresh)
        if reply.status != 200 or not isinstance(reply.json, dict) or "access_token" not in reply.json:
            raise KitError(f"The token endpoint refused {what}: {reply.status} "
                           f"{(reply.json or {}).get('error', '') if isinstance(reply.json, dict) else ''}".rstrip() + ".")
        tokens = Tokens.from_reply(reply, self.client.scope)
        self._latest_refresh = tokens.refresh_token or self._latest_refresh
        return tokens

    def fresh_access_token(self) -> str:
        """A token no other check has used, when the kit can make one; else the run's token."""
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

    # -- the world -----------------------------------------------------------------------
    @property
    def account_id(self) -> str | None:
        return (self.connection.get("account") or {}).get("id")

    @property
    def webhook_secret(self) -> str | None:
        return self.connection.get("webhook_signing_secret")

    def server_now(self) -> datetime:
        """The server's clock: the fake's (it can be moved) or, for a real server, ours."""
        return self.admin.now() if self.admin is not None else datetime.now(timezone.utc)

    def next_instant(self) -> datetime:
        """Server time, strictly later than any instant handed out before in this run."""
        now = self.server_now().replace(microsecond=0)
        if self._last_instant is not None and now <= self._last_instant:
            now = self._last_instant + timedelta(seconds=1)
        self._last_instant = now
        return now

    def shared_contact(self, token: str) -> str:
        """A live contact of the account, when the kit cannot create its own."""
        if self._shared_contact is None:
            reply = self.probe.get("/v1/contacts", token=token, params={"per_page": 1})
            data = (reply.json or {}).get("data") if isinstance(reply.json, dict) else None
            if reply.status != 200 or not data:
                raise Skip("the account lists no contact to write engagement on")
            self._shared_contact = data[0]["id"]
        return self._shared_contact

    def close(self) -> None:
        if isinstance(self.authorizer, InteractiveAuthorizer):
            self.authorizer.close()


@dataclass
class CheckContext:
    """What one check sees; `run_id` plus a counter make every id it sends unique."""

    target: Target
    _counter: int = 0

    @property
    def probe(self) -> Probe:
        return self.target.probe

    @property
    def contract(self) -> ContractView:
        return self.target.contract

    def unique(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self.target.run_id}_{int(time.time() * 1000) % 10**9}_{self._counter}"

    # -- guards: a missing capability is a skip that says what to give ------------------
    def need_authorize(self) -> None:
        if not self.target.can_authorize:
            raise Skip("needs new authorizations: give --client-id/--client-secret with --login-hint "
                       "(a server that approves at once) or --interactive")

    def need_changes(self) -> Changer:
        if self.target.changer is None:
            raise Skip("needs records to change during the check: give --state-hook CMD (see --help)")
        return self.target.changer

    def need_write(self) -> None:
        if "write:engagement" not in (self.target.connection.get("scopes") or []):
            raise Skip("the run's token lacks the write:engagement scope")

    def need_secret(self) -> str:
        secret = self.target.webhook_secret
        if not secret:
            raise Skip("GET /v1/connection returned no webhook_signing_secret")
        return secret

    def need_other_account(self) -> str:
        token = self.target.other_account_token()
        if token is None:
            raise Skip("needs a second account: give --other-login-hint EMAIL or --other-token TOKEN")
        return token

    # -- helpers -------------------------------------------------------------------------
    def token(self) -> str:
        return self.target.fresh_access_token()

    def contact(self, token: str) -> str:
        """A live contact this check may write on: its own when the kit can create one."""
        if self.target.changer is not None:
            return self.target.changer.create_contact()
        return self.target.shared_contact(token)

    def get_json(self, path: str, token: str, **params: Any) -> tuple[Reply, Any]:
        reply = self.probe.get(path, token=token, params=params or None)
        if reply.status != 200 or not isinstance(reply.json, dict):
            raise Fail(f"GET {path} answered {reply.status}, not 200 with a JSON object", reply.exchange)
        return reply, reply.json

    def expect(self, condition: bool, message: str, reply: Reply | None = None) -> None:
        if not condition:
            raise Fail(message, reply.exchange if reply is not None else None)
