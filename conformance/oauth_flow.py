"""The OAuth 2.0 client side of the kit, step by step, so a check can take any step wrongly
on purpose (no verifier, `plain`, another redirect URI, a replayed code) and see the answer.

Authlib supplies the PKCE arithmetic and random values; the requests themselves are written out
because the checks need to send exactly what a broken or malicious client would. Two ways to
get through the authorization endpoint: headless (`login_hint` on a server that auto-approves,
as the fake does) and interactive (a browser and a loopback redirect, RFC 8252 §7.3).
"""
from __future__ import annotations

import sys
import threading
import webbrowser
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from . import loopback
from .model import KitError
from .probe import Probe, Reply

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str | None  # None: a public client (PKCE only)
    redirect_uri: str
    scope: str


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_in: int | None
    scope: tuple[str, ...]  # what the server says it granted (RFC 6749 §5.1)

    @classmethod
    def from_reply(cls, reply: Reply, asked_scope: str) -> "Tokens":
        body = reply.json or {}
        granted = body.get("scope") or asked_scope  # RFC 6749 §5.1: absent means as requested
        return cls(body["access_token"], body.get("refresh_token"), _seconds(body.get("expires_in")),
                   tuple(str(granted).split()))


def _seconds(value) -> int | None:
    """`expires_in` as whole seconds; servers send 3600, 3600.0 or "3600"."""
    try:
        return int(float(value)) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


@dataclass
class Attempt:
    """One pass through the authorization endpoint and where it led."""

    state: str
    verifier: str
    redirect_uri: str
    callback: str | None  # the redirect URI the server sent the user agent back to, if any
    reply: Reply | None  # the endpoint's own answer (headless), for evidence

    @property
    def params(self) -> dict[str, str]:
        if not self.callback:
            return {}
        return {k: v[0] for k, v in parse_qs(urlsplit(self.callback).query).items()}

    @property
    def code(self) -> str | None:
        return self.params.get("code")


def pkce_pair() -> tuple[str, str]:
    verifier = generate_token(64)
    return verifier, create_s256_code_challenge(verifier)


def authorization_url(endpoint: str, client: Client, *, state: str, challenge: str | None,
                      method: str | None = "S256", redirect_uri: str | None = None, scope: str | None = None,
                      login_hint: str | None = None) -> str:
    params = {"response_type": "code", "client_id": client.client_id,
              "redirect_uri": redirect_uri or client.redirect_uri, "scope": scope or client.scope, "state": state}
    if challenge is not None:
        params["code_challenge"] = challenge
        if method is not None:
            params["code_challenge_method"] = method
    if login_hint:
        params["login_hint"] = login_hint
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


def is_loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def with_port(uri: str, port: int) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, f"{parts.hostname}:{port}", parts.path, parts.query, ""))


class HeadlessAuthorizer:
    """One GET with `login_hint`: an auto-approving server answers with the redirect at once."""

    interactive = False

    def __init__(self, probe: Probe, login_hint: str) -> None:
        self.probe, self.login_hint = probe, login_hint

    def redirect_uri(self, client: Client) -> str:
        return client.redirect_uri

    def authorize(self, url: str, redirect_uri: str) -> tuple[str | None, Reply | None]:
        reply = self.probe.get(url)
        location = reply.headers.get("Location", "")
        if reply.status in (301, 302, 303, 307) and location.startswith(redirect_uri.split("?", 1)[0]):
            return location, reply
        return None, reply


@dataclass
class InteractiveAuthorizer:
    """Opens the consent page in a browser and catches the redirect on a loopback port.

    The browser is whatever `webbrowser` picks (the `BROWSER` variable chooses one); the URL is
    also printed, for a person on another machine's browser to paste.
    """

    timeout: float = 300.0
    opener: Callable[[str], object] = webbrowser.open
    interactive: bool = True
    _receiver: "loopback.CallbackCatcher | None" = field(default=None, init=False)

    def redirect_uri(self, client: Client) -> str:
        if not is_loopback(client.redirect_uri):
            raise KitError(f"Interactive authorization needs a loopback redirect URI (RFC 8252), "
                           f"not {client.redirect_uri}; register http://127.0.0.1/callback for your client.")
        if self._receiver is None:
            self._receiver = loopback.CallbackCatcher(urlsplit(client.redirect_uri).path or "/")
        return with_port(client.redirect_uri, self._receiver.port)

    def authorize(self, url: str, redirect_uri: str) -> tuple[str | None, Reply | None]:
        assert self._receiver is not None, "redirect_uri() first"
        self._receiver.expect()
        print(f"Approve the connection in your browser (waiting {int(self.timeout)} s):\n  {url}", file=sys.stderr)
        threading.Thread(target=self.opener, args=(url,), daemon=True).start()
        callback = self._receiver.wait(self.timeout)
        if callback is None:
            raise KitError(f"No authorization came back to {redirect_uri} within {int(self.timeout)} seconds.")
        return callback, None

    def close(self) -> None:
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None


def start(probe: Probe, authorizer, endpoint: str, client: Client, *, challenge_method: str | None = "S256",
          send_challenge: bool = True, redirect_uri: str | None = None, scope: str | None = None) -> Attempt:
    """Send the user agent to the authorization endpoint; `Attempt.callback` is where it came back."""
    verifier, challenge = pkce_pair()
    if challenge_method == "plain":
        challenge = verifier
    state = generate_token(24)
    redirect = redirect_uri or authorizer.redirect_uri(client)
    url = authorization_url(endpoint, client, state=state, challenge=challenge if send_challenge else None,
                            method=challenge_method, redirect_uri=redirect, scope=scope,
                            login_hint=getattr(authorizer, "login_hint", None))
    callback, reply = authorizer.authorize(url, redirect)
    return Attempt(state, verifier, redirect, callback, reply)


def token_request(probe: Probe, endpoint: str, client: Client, form: dict[str, str]) -> Reply:
    """POST to the token (or revocation) endpoint, authenticating as RFC 6749 §2.3.1 says."""
    form = dict(form)
    auth = None
    if client.client_secret is None:
        form["client_id"] = client.client_id
    else:  # client_secret_basic: each part form-urlencoded first (RFC 6749 §2.3.1)
        auth = (quote(client.client_id, safe=""), quote(client.client_secret, safe=""))
    return probe.post(endpoint, data=form, auth=auth, headers={"Accept": "application/json"})


def exchange_code(probe: Probe, endpoint: str, client: Client, attempt: Attempt, *,
                  verifier: str | None = "", redirect_uri: str | None = None) -> Reply:
    """The code for tokens; `verifier=None` leaves the verifier out, "" sends the right one."""
    form = {"grant_type": "authorization_code", "code": attempt.code or "",
            "redirect_uri": redirect_uri or attempt.redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier or attempt.verifier
    return token_request(probe, endpoint, client, form)


def refresh(probe: Probe, endpoint: str, client: Client, refresh_token: str) -> Reply:
    return token_request(probe, endpoint, client, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def revoke(probe: Probe, endpoint: str, client: Client, token: str, hint: str | None = None) -> Reply:
    form = {"token": token}
    if hint:
        form["token_type_hint"] = hint
    return token_request(probe, endpoint, client, form)
