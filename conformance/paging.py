"""Following `next_cursor` to the end, the way a sync client does, keeping every page."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .model import Fail
from .probe import Reply

MAX_PAGES = 5000


@dataclass
class Sweep:
    records: list[dict[str, Any]] = field(default_factory=list)
    pages: list[Reply] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [record.get("id") for record in self.records]

    def page_of(self, index: int) -> Reply:
        """The page that brought record number `index` (for evidence)."""
        seen = 0
        for page in self.pages:
            seen += len((page.json or {}).get("data") or [])
            if index < seen:
                return page
        return self.pages[-1]

    @property
    def total(self) -> int | None:
        """`pagination.total` of the first page."""
        return ((self.pages[0].json or {}).get("pagination") or {}).get("total") if self.pages else None


def sweep(probe, path: str, token: str, per_page: int, params: dict[str, Any] | None = None,
          between: Callable[[int, Sweep], None] | None = None) -> Sweep:
    """Every page of `path` with `params`; `between(page_number, sweep)` runs after each page
    that has a next one (a check changes records there). Fails on any page that is not a page."""
    result = Sweep()
    query = {**(params or {}), "per_page": per_page}
    while len(result.pages) < MAX_PAGES:
        reply = probe.get(path, token=token, params=query)
        body = reply.json
        if reply.status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list) \
                or not isinstance(body.get("pagination"), dict):
            raise Fail(f"page {len(result.pages) + 1} of GET {path} answered {reply.status}, not a page of "
                       "data with pagination", reply.exchange)
        result.pages.append(reply)
        result.records.extend(body["data"])
        cursor = body["pagination"].get("next_cursor")
        if not cursor:
            return result
        if between is not None:
            between(len(result.pages), result)
        query = {**(params or {}), "per_page": per_page, "cursor": cursor}
    raise Fail(f"GET {path} still had a next page after {MAX_PAGES} pages", result.pages[-1].exchange)
