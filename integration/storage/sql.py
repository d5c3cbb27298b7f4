"""The portable SQL subset both databases run, and the few helpers every query shares.

Our SQL is written once, with qmark placeholders (`?`), and runs unchanged on SQLite and
PostgreSQL. psycopg only knows `%s`, so for PostgreSQL each statement is lexed by `sqlparse`
(quotes and comments are understood, so a `?` inside `'…'` stays a character) and its
placeholders become `%s`; a literal `%` becomes `%%`. The result is cached per statement, so
after the first call a statement costs one dictionary lookup, the same as before the library
replaced our own tokenizer (the lexer itself is about 10x slower than that tokenizer was, which
is why the cache is large enough for every `IN` list length `in_lists` produces).

Values: timestamps are TEXT in the one stored shape (`format_ts`: `common.timestamps` with microseconds — UTC, `Z`, fixed
width, so text order is time order; read back with `common.timestamps.parse_rfc3339`); JSON is TEXT (`to_json`: compact with sorted
keys, so equal values compare equal as text); booleans are INTEGER 0/1.
"""
from __future__ import annotations

import functools
import json
from datetime import date, datetime
from typing import Any, Iterator, Sequence, TypeVar

from sqlparse import tokens
from sqlparse.lexer import Lexer

from common.timestamps import format_rfc3339

T = TypeVar("T")
Params = Sequence[Any]

#: Values per `IN (...)` list: well under SQLite's 32,766 host parameters and PostgreSQL's 65,535,
#: and small enough that a planner treats the list as a handful of index lookups.
CHUNK = 500
_TIMESTAMP_DIGITS = 6


# ----------------------------------------------------------------------------- values

def format_ts(value: datetime) -> str:
    """The one stored shape of an instant: `2026-01-10T14:22:00.000000Z`."""
    return format_rfc3339(value, _TIMESTAMP_DIGITS)


_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_json(value: Any) -> str:
    """Canonical JSON text (sorted keys, no spaces): equal values store as equal text, so a sync
    can compare stored and incoming rows column by column. One encoder, built once: `json.dumps`
    with options builds a new one per call, which shows in a sync's profile."""
    return _CANONICAL_JSON.encode(value)


def from_json(value: str | None, default: Any = None) -> Any:
    return default if value is None else json.loads(value)


def adapt(value: Any) -> Any:
    """A Python value as the portable subset stores it (bool -> 0/1, datetime -> text)."""
    if value is True or value is False:
        return int(value)
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def adapt_all(params: Params | None) -> tuple[Any, ...]:
    return () if not params else tuple(adapt(value) for value in params)


# ----------------------------------------------------------------------------- statements

def placeholders(count: int) -> str:
    """`?, ?, ?` for an IN list of `count` values."""
    if count < 1:
        raise ValueError("an IN list needs at least one value")
    return ", ".join("?" * count)


def in_lists(values: Sequence[T], size: int = CHUNK) -> Iterator[tuple[str, list[T]]]:
    """`(placeholders, chunk)` for each run of at most `size` values: the one way a query over
    many ids is split, e.g. `for marks, ids in in_lists(all_ids): tx.fetchall(f"… IN ({marks})", ids)`."""
    for start in range(0, len(values), size):
        chunk = list(values[start:start + size])
        yield placeholders(len(chunk)), chunk


@functools.lru_cache(maxsize=16_384)
def to_pyformat(sql: str) -> str:
    """qmark -> psycopg's `%s`, skipping quoted text and comments; `%` is escaped everywhere."""
    out = []
    for kind, text in Lexer.get_default_instance().get_tokens(sql):
        out.append("%s" if kind in tokens.Name.Placeholder and text == "?" else text.replace("%", "%%"))
    return "".join(out)
