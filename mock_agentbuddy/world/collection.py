"""One entity type of one account: records by id plus an index sorted by (updated_at, id).

The sorted index is what makes keyset pagination cheap: a page of 500 out of 100,000 is a
bisect and a short scan, and a record changed mid-sweep moves to the end of the order, so a
sweep never skips it.
"""
from __future__ import annotations

import bisect
import json
from typing import Any, Callable, Iterator

Record = dict[str, Any]
Key = tuple[int, str]

# Contact fields Broadcast writes (engagement.py changes them in place); kept out of the cache.
RECEIVED_FIELDS = ("engagement", "propensity", "campaigns")
_NOTHING_RECEIVED = ',"engagement":null,"propensity":null,"campaigns":[]}'


class Collection:
    def __init__(self, entity: str) -> None:
        self.entity = entity
        self.records: dict[str, Record] = {}
        self._stamp: dict[str, int] = {}  # id -> updated_at in microseconds
        self.keys: list[Key] = []
        self.live = 0
        self.version = 0  # bumps on every change; caches key on it
        self._json: dict[str, str] = {}  # id -> serialised record without RECEIVED_FIELDS

    @classmethod
    def build(cls, entity: str, rows: list[tuple[int, Record]]) -> "Collection":
        coll = cls(entity)
        for stamp, record in rows:
            coll.records[record["id"]] = record
            coll._stamp[record["id"]] = stamp
            if record.get("deleted_at") is None:
                coll.live += 1
        coll.keys = sorted((coll._stamp[i], i) for i in coll.records)
        return coll

    def __len__(self) -> int:
        return len(self.records)

    def get(self, record_id: str) -> Record | None:
        return self.records.get(record_id)

    def stamp_of(self, record_id: str) -> int:
        return self._stamp[record_id]

    def put(self, record: Record, stamp: int) -> None:
        """Insert or replace a record whose `updated_at` is `stamp` (microseconds)."""
        record_id = record["id"]
        old = self.records.get(record_id)
        if old is not None:
            key = (self._stamp[record_id], record_id)
            index = bisect.bisect_left(self.keys, key)
            if index < len(self.keys) and self.keys[index] == key:
                del self.keys[index]
            if old.get("deleted_at") is None:
                self.live -= 1
        self.records[record_id] = record
        self._stamp[record_id] = stamp
        self._json.pop(record_id, None)
        bisect.insort(self.keys, (stamp, record_id))
        if record.get("deleted_at") is None:
            self.live += 1
        self.version += 1

    def forget_json(self, record_id: str) -> None:
        """Drop the cached serialisation after changing a record in place (tests do this)."""
        self._json.pop(record_id, None)

    def json_of(self, record: Record) -> str:
        """The record as JSON. Pages of 500 are served often: the CRM part of each record is
        serialised once per version, the fields Broadcast writes are added fresh each time."""
        base = self._json.get(record["id"])
        if base is None:
            base = json.dumps({k: v for k, v in record.items() if k not in RECEIVED_FIELDS}, separators=(",", ":"))
            self._json[record["id"]] = base
        if "campaigns" not in record:
            return base
        if record["engagement"] is None and record["propensity"] is None and not record["campaigns"]:
            return base[:-1] + _NOTHING_RECEIVED
        received = json.dumps({k: record[k] for k in RECEIVED_FIELDS}, separators=(",", ":"))
        return base[:-1] + "," + received[1:]

    def scan(self, start: int, predicate: Callable[[Record], bool], limit: int) -> Iterator[Record]:
        """Records from position `start` of the sorted index that match, at most `limit`."""
        keys, records = self.keys, self.records
        found = 0
        for position in range(start, len(keys)):
            record = records[keys[position][1]]
            if predicate(record):
                yield record
                found += 1
                if found >= limit:
                    return

    def position_after(self, key: Key) -> int:
        return bisect.bisect_right(self.keys, key)

    def position_at_or_after(self, stamp: int) -> int:
        return bisect.bisect_left(self.keys, (stamp, ""))
