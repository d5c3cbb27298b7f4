"""The one retry policy for every call to AgentBuddy, mounted once on a requests Session.

As in requests' own design, transport policy lives in a mounted `HTTPAdapter`; everything that
talks to AgentBuddy — the read API client, OAuth's token, revocation and discovery calls,
subscriptions — goes through a session carrying it, so there is exactly one place that decides
whether a failed call is tried again and how long to wait.

Why this adapter and tenacity, not urllib3's `Retry`: urllib3 retries what it sees (connection
errors, statuses) but hands requests an unread body, so a body cut short, a connection reset
while reading it, or JSON that does not parse surfaced later and needed a second, hand-written
loop on top. Here one attempt is the whole exchange — send, read the body to the end, decode
JSON when the response says it is JSON — and tenacity runs the attempts under one policy:

* retried: no connection (refused, timed out) for any method, since nothing was sent; for
  idempotent methods also a 429/5xx answer, a reset, a truncated or undecodable body;
* waits: exponential backoff with jitter (`http_backoff_factor` x 2^(n-1), plus up to one factor,
  at most 30 s), and never shorter than a `Retry-After` the server sent (seconds or HTTP date);
* stops after `http_max_retries` retries: a last 429/5xx is handed back as the response (the
  caller turns it into a typed error), a last transport failure is raised.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from urllib3.exceptions import NewConnectionError

from integration.config import IntegrationConfig

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
BACKOFF_MAX = 30.0
USER_AGENT = "broadcast-agentbuddy-integration/0.1"


class UnreadableBody(requests.RequestException):
    """The response could not be read whole, or is not the JSON its Content-Type says it is."""


class _RetryableStatus(Exception):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class TransportStats:
    """What the retry policy saw on one session: attempts sent and the retries they needed."""

    requests: int = 0
    body_retries: int = 0
    seconds: float = 0.0  # filled in by callers that time their calls (the client)
    retries_by_status: dict[int, int] = field(default_factory=dict)


class DecodedResponse(requests.Response):
    """A response whose JSON body was decoded while a failure could still be retried."""

    decoded: Any = None
    has_decoded: bool = False

    def json(self, **kwargs: Any) -> Any:
        if self.has_decoded and not kwargs:
            return self.decoded
        return super().json(**kwargs)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """RFC 9110 Retry-After: delay-seconds or an HTTP-date; anything unreadable is ignored."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))


class RetryingAdapter(HTTPAdapter):
    """An `HTTPAdapter` whose `send` is one tenacity-run policy over whole exchanges."""

    def __init__(self, config: IntegrationConfig, sleep: Callable[[float], None] | None = None) -> None:
        super().__init__(pool_connections=4, pool_maxsize=8, max_retries=0)
        self.attempts = config.http_max_retries + 1
        self.factor = config.http_backoff_factor
        self.stats = TransportStats()
        self._sleep = sleep or _wall_sleep

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        idempotent = (request.method or "GET").upper() in IDEMPOTENT
        policy = Retrying(
            stop=stop_after_attempt(self.attempts), wait=self._wait, sleep=self._sleep, reraise=True,
            retry=retry_if_exception(lambda exc: _worth_retrying(exc, idempotent)), before_sleep=self._count,
        )
        try:
            return policy(self._exchange, request, idempotent, kwargs)
        except _RetryableStatus as exhausted:
            return exhausted.response

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        response.__class__ = DecodedResponse  # same object, plus the decoded JSON slot
        return response

    def _exchange(self, request: requests.PreparedRequest, idempotent: bool, kwargs: dict[str, Any]) -> Any:
        """One attempt: send, then (unless streaming) read and decode the body while a failure
        can still be retried."""
        self.stats.requests += 1
        response = super().send(request, **kwargs)
        if idempotent and response.status_code in RETRY_STATUSES:
            try:
                response.content  # read now: the last answer's problem details are handed back
            except requests.RequestException:
                pass
            raise _RetryableStatus(response)
        if kwargs.get("stream"):
            return response
        try:
            body = response.content
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
                requests.exceptions.ConnectionError) as exc:
            raise UnreadableBody(f"{request.method} {request.url}: the body could not be read: {exc}") from exc
        if body and "json" in response.headers.get("Content-Type", ""):
            try:
                response.decoded, response.has_decoded = json.loads(body), True
            except ValueError as exc:
                raise UnreadableBody(f"{request.method} {request.url}: the body is not valid JSON: {exc}") from exc
        return response

    def _wait(self, state: RetryCallState) -> float:
        backoff = min(BACKOFF_MAX, self.factor * 2 ** (state.attempt_number - 1) + random.uniform(0, self.factor))
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _RetryableStatus):
            asked = parse_retry_after(failure.response.headers.get("Retry-After"), datetime.now(timezone.utc))
            if asked is not None:
                return max(backoff, asked.total_seconds())
        return backoff

    def _count(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _RetryableStatus):
            status = failure.response.status_code
            self.stats.retries_by_status[status] = self.stats.retries_by_status.get(status, 0) + 1
        elif isinstance(failure, UnreadableBody):
            self.stats.body_retries += 1


def _worth_retrying(exc: BaseException, idempotent: bool) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout) or _never_connected(exc):
        return True  # nothing reached the server: safe for any method
    if not idempotent:
        return False
    return isinstance(exc, (_RetryableStatus, UnreadableBody, requests.exceptions.ConnectionError,
                            requests.exceptions.Timeout))


def _never_connected(exc: BaseException) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.exceptions.ConnectionError) and isinstance(reason, NewConnectionError)


def _wall_sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at call time, so a test can record the waits instead


def mount_retries(session: requests.Session, config: IntegrationConfig,
                  sleep: Callable[[float], None] | None = None) -> TransportStats:
    """Mount the retry policy on `session` (http and https); returns its stats."""
    adapter = RetryingAdapter(config, sleep)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter.stats


def retrying_session(config: IntegrationConfig, auth: requests.auth.AuthBase | None = None, *,
                     sleep: Callable[[float], None] | None = None) -> requests.Session:
    """A session every AgentBuddy call shares: pooled connections, the retry policy, a User-Agent."""
    session = requests.Session()
    mount_retries(session, config, sleep)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.auth = auth
    return session


def transport_stats(session: requests.Session) -> TransportStats:
    adapter = session.get_adapter("http://")
    return adapter.stats if isinstance(adapter, RetryingAdapter) else TransportStats()
