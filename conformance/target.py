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

from .credentials import Credentials
from .model import Fail, KitError, Skip
from .probe import Probe, Reply, Unreachable
from .schema import ContractView
from .state import Changer, FakeAdmin, StateHook

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
    credentials: Credentials | None = None
    admin: FakeAdmin | None = None
    changer: Changer | None = None
    connection: dict[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    _shared_contact: str | None = None
    _last_instant: datetime | None = None

    @classmethod
    def open(cls, options: Options) -> "Target":
        url = options.url.rstrip("/")
        if url.endswith("/v1"):
            url = url[:-3]
        probe = Probe(url, timeout=options.timeout)
        target = cls(options, probe, ContractView.load(options.contract))
        try:
            world = FakeAdmin.detect(probe) if options.use_admin else None
            if world is not None:
                target.admin = FakeAdmin(probe)
            target.credentials = Credentials.gather(probe, options, target.contract.scopes(), world)
            target._meet_account(target.credentials.first_token(options).access_token)
            target.credentials.meet_second_account(world, target.account_id)
        except Unreachable as error:
            target.close()
            raise KitError(f"Cannot reach {url}: {error.exchange.error}.") from None
        except KitError:
            target.close()
            raise
        return target

    @property
    def api_url(self) -> str:
        return f"{self.probe.base_url}/v1"

    def _meet_account(self, token: str) -> None:
        reply = self.probe.get("/v1/connection", token=token)
        if reply.status in (401, 403):
            raise KitError(f"The server refused the kit's access token: GET /v1/connection answered "
                           f"{reply.status} {reply.problem_code or ''}".rstrip() + ".")
        if reply.status != 200 or not isinstance(reply.json, dict):
            raise KitError(f"GET /v1/connection answered {reply.status}; the kit needs it to learn the account "
                           "and the webhook secret.")
        self.connection = reply.json
        if self.admin is not None:
            self.admin.account_id = self.account_id
            self.changer = self.admin
        if self.options.state_hook:
            self.changer = StateHook(self.options.state_hook,
                                     {"AB_KIT_URL": self.probe.base_url, "AB_KIT_ACCOUNT_ID": self.account_id or ""})

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
        if self.credentials is not None:
            self.credentials.close()


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

    @property
    def creds(self) -> Credentials:
        return self.target.credentials

    def unique(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self.target.run_id}_{int(time.time() * 1000) % 10**9}_{self._counter}"

    # -- guards: a missing capability is a skip that says what to give ------------------
    def need_authorize(self) -> None:
        if not self.creds.can_authorize:
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
        token = self.creds.other_account_token()
        if token is None:
            raise Skip("needs a second account: give --other-login-hint EMAIL or --other-token TOKEN")
        return token

    # -- helpers -------------------------------------------------------------------------
    def token(self) -> str:
        return self.creds.fresh_access_token()

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
