"""Keyset pagination over a Collection, ordered by (updated_at, id).

The cursor is opaque to clients: base64url JSON of the last record's (updated_at, id) plus a
fingerprint of the filters it was issued for, so replaying it with other filters (or for
another account or entity) is refused instead of silently returning a wrong slice.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field

from ..world.collection import Collection, Record

MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 100


class CursorError(ValueError):
    """The cursor is malformed, tampered with, or was issued for different filters."""


@dataclass(frozen=True)
class ListQuery:
    per_page: int = DEFAULT_PER_PAGE
    cursor: str | None = None
    updated_since_us: int | None = None
    include_deleted: bool = False
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def with_tombstones(self) -> bool:
        """Incremental sweeps must learn about deletions, so `updated_since` implies tombstones."""
        return self.include_deleted or self.updated_since_us is not None

    def fingerprint(self, scope: str) -> str:
        material = json.dumps([scope, sorted(self.filters.items()), self.updated_since_us,
                               self.with_tombstones], separators=(",", ":"))
        return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Page:
    data: list[Record]
    total: int
    per_page: int
    next_cursor: str | None
    page: int  # informational, 1-based


def encode_cursor(stamp: int, record_id: str, fingerprint: str, page: int) -> str:
    raw = json.dumps({"u": stamp, "i": record_id, "f": fingerprint, "p": page}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[int, str, int]:
    """(updated_at µs, id, number of the page the cursor leads to)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        stamp, record_id, issued_for, page = payload["u"], payload["i"], payload["f"], payload.get("p", 2)
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        raise CursorError("The cursor is not one this server issued; start again without a cursor.") from None
    if not isinstance(stamp, int) or not isinstance(record_id, str) or not isinstance(page, int) or page < 2:
        raise CursorError("The cursor is not one this server issued; start again without a cursor.")
    if issued_for != fingerprint:
        raise CursorError("The cursor was issued for different filters; repeat the same filters "
                          "(updated_since, include_deleted, office_id, ...) or start again without a cursor.")
    return stamp, record_id, page


class Pager:
    """Pages of one collection; caches filtered totals until the collection changes."""

    def __init__(self) -> None:
        # (scope, fingerprint) -> (the collection counted, its version then, the total)
        self._totals: dict[tuple[str, str], tuple[Collection, int, int]] = {}

    def page(self, collection: Collection, query: ListQuery, scope: str) -> Page:
        fingerprint = query.fingerprint(scope)
        start, number = 0, 1
        if query.updated_since_us is not None:
            start = collection.position_at_or_after(query.updated_since_us)
        if query.cursor:
            stamp, record_id, number = decode_cursor(query.cursor, fingerprint)
            start = max(start, collection.position_after((stamp, record_id)))
        predicate = self._predicate(query)
        rows = list(collection.scan(start, predicate, query.per_page + 1))
        next_cursor = None
        if len(rows) > query.per_page:
            rows = rows[: query.per_page]
            last = rows[-1]["id"]
            next_cursor = encode_cursor(collection.stamp_of(last), last, fingerprint, number + 1)
        return Page(rows, self._total(collection, query, scope, fingerprint, predicate),
                    query.per_page, next_cursor, number)

    @staticmethod
    def _predicate(query: ListQuery):
        filters = list(query.filters.items())
        tombstones = query.with_tombstones
        if not filters:
            if tombstones:
                return lambda record: True
            return lambda record: record["deleted_at"] is None

        def matches(record: Record) -> bool:
            if not tombstones and record["deleted_at"] is not None:
                return False
            return all(record.get(name) == value for name, value in filters)

        return matches

    def _total(self, collection: Collection, query: ListQuery, scope: str, fingerprint: str, predicate) -> int:
        if not query.filters:
            if query.updated_since_us is not None:
                return len(collection.keys) - collection.position_at_or_after(query.updated_since_us)
            return len(collection.keys) if query.with_tombstones else collection.live
        cache_key = (scope, fingerprint)
        cached = self._totals.get(cache_key)
        if cached and cached[0] is collection and cached[1] == collection.version:  # an admin reset makes new ones
            return cached[2]
        start = 0 if query.updated_since_us is None else collection.position_at_or_after(query.updated_since_us)
        total = sum(1 for _ in collection.scan(start, predicate, len(collection.keys) + 1))
        self._totals[cache_key] = (collection, collection.version, total)
        return total
