"""The client for AgentBuddy's read API: ask for a resource or walk a list, get JSON or a typed error.

Retries are not here: they are the session's (`session.RetryingAdapter`), so a call that comes
back has already been tried as often as the policy allows. What is left becomes a typed
`AgentBuddyError` carrying the RFC 9457 problem details.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import requests

from integration.config import IntegrationConfig

from .errors import Unavailable, error_from_response
from .session import UnreadableBody, transport_stats


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None
    cursor: str | None = None  # the cursor that fetched this page (None for the first)


class AgentBuddyClient:
    """Reads AgentBuddy's `/v1` API through one authorized, retrying session."""

    def __init__(self, config: IntegrationConfig, session: requests.Session) -> None:
        self.config = config
        self.session = session
        self.base = config.api_base
        self.stats = transport_stats(session)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "AgentBuddyClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `<base><path>` and return its JSON; typed error for anything but 2xx."""
        started = time.perf_counter()
        try:
            response = self.session.get(self.base + path, params=params, timeout=self.config.http_timeout_seconds)
            if response.status_code >= 400:
                raise error_from_response(response)
            return response.json()
        except UnreadableBody as exc:
            raise Unavailable(None, "transport_error", f"GET {path} failed: {exc}") from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise Unavailable(None, "unreachable", f"GET {path} failed after retries: {exc}") from exc
        except ValueError as exc:  # a 2xx that says it is not JSON
            raise Unavailable(None, "transport_error", f"GET {path} did not return JSON: {exc}") from exc
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
