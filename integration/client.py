"""The HTTP client for AgentBuddy's read API: one session, retry policy mounted once.

Transport policy lives in a mounted `HTTPAdapter` with urllib3's `Retry` (exponential backoff
with jitter on connection errors, 5xx and 429, honouring `Retry-After`; only idempotent methods
are retried after a request was sent). Failures urllib3 cannot see — a body cut short, a reset
while reading, JSON that does not parse — are retried here with the same backoff. What is left
becomes a typed `AgentBuddyError` carrying the RFC 9457 problem details.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from .config import IntegrationConfig

RETRY_STATUSES = (429, 500, 502, 503, 504)
USER_AGENT = "broadcast-agentbuddy-integration/0.1"


def retry_policy(config: IntegrationConfig) -> Retry:
    return Retry(
        total=config.http_max_retries,
        connect=config.http_max_retries,
        read=config.http_max_retries,
        status=config.http_max_retries,
        other=0,
        backoff_factor=config.http_backoff_factor,
        backoff_jitter=config.http_backoff_factor,
        backoff_max=30,
        status_forcelist=RETRY_STATUSES,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def retrying_session(config: IntegrationConfig, auth: requests.auth.AuthBase | None = None) -> requests.Session:
    """A session every AgentBuddy call shares: pooled connections, retries, a User-Agent."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry_policy(config), pool_connections=4, pool_maxsize=8)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.auth = auth
    return session


# ----------------------------------------------------------------------------- errors

class AgentBuddyError(RuntimeError):
    """A request AgentBuddy answered with a problem (or never answered)."""

    def __init__(
        self,
        status: int | None,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"AgentBuddy {status or 'unreachable'} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title
        self.errors = errors or []
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRY_STATUSES


class Unauthorized(AgentBuddyError):
    """401: the access token is not (or no longer) accepted."""


class Forbidden(AgentBuddyError):
    """403: e.g. insufficient_scope."""


class NotFound(AgentBuddyError):
    pass


class RequestRejected(AgentBuddyError):
    """Another 4xx: our request is wrong; retrying will not help."""


class Unavailable(AgentBuddyError):
    """5xx/429 after every retry, or the server could not be reached."""


_BY_STATUS: dict[int, type[AgentBuddyError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound}


def error_from_response(response: requests.Response) -> AgentBuddyError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    kind = _BY_STATUS.get(status) or (Unavailable if status >= 500 or status == 429 else RequestRejected)
    retry_after = response.headers.get("Retry-After")
    return kind(
        status,
        str(body.get("code") or f"http_{status}"),
        str(body.get("detail") or body.get("title") or response.reason or ""),
        title=body.get("title"),
        errors=body.get("errors") if isinstance(body.get("errors"), list) else None,
        retry_after=float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
    )


# ----------------------------------------------------------------------------- client

def _retries_exhausted(exc: Exception) -> bool:
    """urllib3 already retried this one (connect failures, timeouts): do not multiply."""
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, MaxRetryError)


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None
    cursor: str | None = None  # the cursor that fetched this page (None for the first)


@dataclass
class ClientStats:
    requests: int = 0
    body_retries: int = 0
    seconds: float = 0.0
    retries_by_status: dict[int, int] = field(default_factory=dict)


class AgentBuddyClient:
    """Reads AgentBuddy's `/v1` API through one authorized, retrying session."""

    def __init__(
        self,
        config: IntegrationConfig,
        session: requests.Session,
        *,
        sleep: Callable[[float], None] = time.sleep,
        body_retries: int | None = None,
    ) -> None:
        self.config = config
        self.session = session
        self.base = config.api_base
        self._sleep = sleep
        self._body_retries = config.http_max_retries if body_retries is None else body_retries
        self.stats = ClientStats()

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "AgentBuddyClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `<base><path>` and return its JSON; typed error for anything but 2xx."""
        url = self.base + path
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = self.session.get(url, params=params, timeout=self.config.http_timeout_seconds)
                self.stats.requests += 1
                self._count_retries(response)
                if response.status_code >= 400:
                    raise error_from_response(response)
                return response.json()
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
                    requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.JSONDecodeError) as exc:
                # Read failures after urllib3's turn: a truncated or garbled body, a reset mid-read.
                if _retries_exhausted(exc):
                    raise Unavailable(None, "unreachable", f"GET {path} failed after retries: {exc}") from exc
                attempt += 1
                if attempt > self._body_retries:
                    raise Unavailable(None, "transport_error", f"GET {path} failed: {exc}") from exc
                self.stats.body_retries += 1
                self._sleep(self._backoff(attempt))
            finally:
                self.stats.seconds += time.perf_counter() - started

    def pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, cursor: str | None = None
    ) -> Iterator[Page]:
        """Follow `next_cursor` from `cursor` (or the start) to the end of the list."""
        base_params = {k: v for k, v in (params or {}).items() if v is not None}
        while True:
            query = dict(base_params, cursor=cursor) if cursor else base_params
            body = self.get(path, query)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise Unavailable(200, "malformed_page", f"GET {path} did not return a list page")
            pagination = body.get("pagination") or {}
            page = Page(body["data"], pagination.get("next_cursor"), pagination.get("total"), cursor)
            yield page
            if not page.next_cursor:
                return
            if page.next_cursor == cursor:  # a server bug would otherwise loop forever
                raise Unavailable(200, "cursor_stuck", f"GET {path} returned the cursor it was given")
            cursor = page.next_cursor

    def connection_info(self) -> dict[str, Any]:
        return self.get("/connection")

    def _backoff(self, attempt: int) -> float:
        base = self.config.http_backoff_factor * (2 ** (attempt - 1))
        return min(30.0, base + random.uniform(0, self.config.http_backoff_factor))

    def _count_retries(self, response: requests.Response) -> None:
        history = getattr(response.raw, "retries", None)
        for entry in getattr(history, "history", ()) or ():
            if entry.status:
                self.stats.retries_by_status[entry.status] = self.stats.retries_by_status.get(entry.status, 0) + 1
