"""The kit's only way to the server: HTTP through one session that records every exchange.

Each check gets its own recording (`Probe.recording()`), so a failure can show the request and
the answer behind it. Secrets are masked in what is kept: a report is meant to be attached to an
email. A 429 is waited out (up to a minute, as `Retry-After` asks) unless the check is about 429s
itself, so a run that shares one token with a busy sandbox is slowed, not failed.
"""
from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import requests

from .model import Exchange, excerpt

SECRET_FIELDS = re.compile(r'("(?:access_token|refresh_token|id_token|client_secret|webhook_signing_secret)"\s*:\s*")'
                           r'([^"]{6})[^"]*(")')
SECRET_FORM = re.compile(r"((?:^|&)(?:client_secret|refresh_token|token|code_verifier)=)([^&]{0,6})[^&]*")
PATIENCE_SECONDS = 60


class Unreachable(Exception):
    """Nothing came back (connection refused, DNS, timeout); the exchange says which request."""

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange.error)
        self.exchange = exchange


@dataclass
class Reply:
    """An answer and the exchange it belongs to; `json` is None when the body is not JSON."""

    status: int
    headers: Any  # requests' case-insensitive dict
    body: bytes
    exchange: Exchange
    response: requests.Response

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def problem_code(self) -> str | None:
        """The RFC 9457 body's `code`, or None when the body is not a JSON object."""
        body = self.json
        return body.get("code") if isinstance(body, dict) else None


def mask(text: str | None) -> str | None:
    if not text:
        return text
    text = SECRET_FIELDS.sub(lambda m: f"{m.group(1)}{m.group(2)}…{m.group(3)}", text)
    return SECRET_FORM.sub(lambda m: f"{m.group(1)}{m.group(2)}…", text)


def mask_headers(headers) -> dict[str, str]:
    shown = {}
    for name, value in headers.items():
        if name.lower() in ("authorization", "cookie", "set-cookie"):
            scheme, _, credential = str(value).partition(" ")
            value = f"{scheme} {credential[:6]}…" if credential else "…"
        shown[name] = str(value)
    return shown


@dataclass
class Probe:
    base_url: str  # the server's origin, e.g. http://127.0.0.1:8800 (the API is under /v1)
    timeout: float = 15.0
    session: requests.Session = field(default_factory=requests.Session)
    _log: list[Exchange] | None = None

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    @contextmanager
    def recording(self) -> Iterator[list[Exchange]]:
        """Collect every exchange made inside the block (one check's evidence)."""
        outer, self._log = self._log, []
        try:
            yield self._log
        finally:
            self._log = outer

    def request(self, method: str, path: str, *, token: str | None = None, patient: bool = True,
                **kwargs: Any) -> Reply:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", self.timeout)
        for attempt in range(3):
            reply = self._once(method, self.url(path), headers, kwargs)
            wait = _retry_after(reply) if patient and attempt < 2 else None
            if wait is None:
                return reply
            time.sleep(wait)
        return reply

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.request("POST", path, **kwargs)

    def _once(self, method: str, url: str, headers: dict, kwargs: dict) -> Reply:
        prepared = self.session.prepare_request(requests.Request(method, url, headers=headers,
                                                                 **_request_args(kwargs)))
        exchange = Exchange(method, prepared.url, mask_headers(prepared.headers), mask(excerpt(prepared.body)))
        if self._log is not None:
            self._log.append(exchange)
        try:
            response = self.session.send(prepared, allow_redirects=kwargs["allow_redirects"],
                                         timeout=kwargs["timeout"])
        except requests.RequestException as error:
            exchange.error = f"{type(error).__name__}: {error}"
            raise Unreachable(exchange) from None
        exchange.status = response.status_code
        exchange.response_headers = mask_headers(response.headers)
        exchange.response_body = mask(excerpt(response.content))
        return Reply(response.status_code, response.headers, response.content, exchange, response)


def _request_args(kwargs: dict) -> dict:
    return {name: kwargs[name] for name in ("params", "data", "json", "auth") if name in kwargs}


def _retry_after(reply: Reply) -> float | None:
    if reply.status != 429:
        return None
    value = reply.headers.get("Retry-After", "")
    return float(value) + 0.05 if value.isdigit() and int(value) <= PATIENCE_SECONDS else None
