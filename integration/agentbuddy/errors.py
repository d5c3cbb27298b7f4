"""What can go wrong talking to AgentBuddy, as exceptions a caller can act on.

An answer with a problem becomes a typed `AgentBuddyError` carrying the RFC 9457 details
(`code`, `detail`, `errors`); an organization without a usable connection is `NotConnected`; a
failed connect attempt is `ConnectError` with a stable `code`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import requests

from .session import RETRY_STATUSES, parse_retry_after


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
    retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(timezone.utc))
    return kind(
        status,
        str(body.get("code") or f"http_{status}"),
        str(body.get("detail") or body.get("title") or response.reason or ""),
        title=body.get("title"),
        errors=body.get("errors") if isinstance(body.get("errors"), list) else None,
        retry_after=None if retry_after is None else retry_after.total_seconds(),
    )


class NotConnected(RuntimeError):
    """The organization has no usable AgentBuddy connection."""

    def __init__(self, organization_id: str, status: str | None, detail: str | None = None) -> None:
        what = "has never connected AgentBuddy" if status is None else f"connection is {status}"
        super().__init__(f"organization {organization_id!r} {what}" + (f": {detail}" if detail else ""))
        self.organization_id = organization_id
        self.status = status


class ConnectError(RuntimeError):
    """A connect attempt failed; `.code` is stable (invalid_state, access_denied, account_mismatch…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
