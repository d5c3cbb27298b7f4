"""Paging misuse: `per_page` out of bounds, a sweep started over while its `next_cursor` was
waiting, cursors the server never issued, and full sweeps repeated where `updated_since` would do.

A sweep is followed per connection (OAuth client + account, from the token) and per query: the
collection and its filters, `updated_since` and `include_deleted` included, the cursor and
`per_page` not (the cursor carries the rest). Only answers the client received count: a page a
fault cut short (truncated, dropped) is one the client may fetch again.
"""
from __future__ import annotations

from collections import defaultdict
from urllib.parse import parse_qsl

from .model import WARNING, Finding, Records, at, finding, rule, times

#: Changes reach a client by notifications or incremental polls (DECISIONS Q6: instead of polling
#: every 15 minutes); a full sweep is for the first sync and for reconciliation (DECISIONS Part 3:
#: after 85 days), so two complete full sweeps of a collection within an hour are a re-sweep.
FULL_SWEEP_MIN_INTERVAL_SECONDS = 3600
PAGE_KEPT_OUT = ("cursor", "per_page")
FILTERS = ("updated_since", "office_id", "agent_id", "contact_type")
UNDELIVERED_FAULTS = ("truncate", "reset")


def _lists(records: Records) -> list[dict]:
    return [e for e in records.requests if str(e.get("operation_id") or "").startswith("list")]


def _received_pages(records: Records) -> list[tuple[dict, dict[str, str]]]:
    """(entry, its query) for every page the client received, in order."""
    pages = []
    for entry in _lists(records):
        if entry["status"] == 200 and entry.get("client_id") and not any(
                kind in (entry.get("fault") or "") for kind in UNDELIVERED_FAULTS):
            pages.append((entry, dict(parse_qsl(entry["query"], keep_blank_values=True))))
    return pages


def _sweep_key(entry: dict, query: dict[str, str]) -> tuple:
    rest = tuple(sorted((k, v) for k, v in query.items() if k not in PAGE_KEPT_OUT))
    return entry["client_id"], entry["account_id"], entry["path"], rest


@rule("paging.per_page.bounds", "Asks for 1 to 500 records a page", "openapi/agentbuddy.yaml "
      "components.parameters.PerPage; DECISIONS Part 2 #23")
def per_page_bounds(records: Records) -> list[Finding] | None:
    lists = [e for e in _lists(records) if "per_page=" in e["query"]]
    if not lists:
        return None
    out = [e for e in lists if any(error.get("field") == "query.per_page"
                                   for error in (e.get("validation") or {}).get("errors") or [])]
    return [finding(f"per_page out of 1-500 ({times(len(out))})", out)] if out else []


@rule("paging.cursor.followed", "Follows next_cursor to the end of a sweep instead of starting over",
      "openapi/agentbuddy.yaml components.schemas.Pagination (next_cursor); DECISIONS Q13, Part 3 (restartable)")
def cursor_followed(records: Records) -> list[Finding] | None:
    pages = _received_pages(records)
    if not any(entry.get("next_cursor") for entry, _ in pages):
        return None
    waiting: dict[tuple, str] = {}
    ignored: dict[tuple, list[dict]] = defaultdict(list)
    for entry, query in pages:
        key = _sweep_key(entry, query)
        if key in waiting and query.get("cursor") != waiting[key]:
            ignored[key].append(entry)
        if entry.get("next_cursor"):
            waiting[key] = entry["next_cursor"]
        else:
            waiting.pop(key, None)
    return [finding(f"{path}{_shown(rest)} asked again from the start or with an old cursor while its "
                    f"next_cursor was waiting ({times(len(entries))})", entries)
            for (_, _, path, rest), entries in ignored.items()]


def _shown(query: tuple) -> str:
    return " with " + "&".join(f"{k}={v}" for k, v in query) if query else ""


@rule("paging.cursor.issued", "Sends only cursors the server issued, with the filters they were issued for",
      "openapi/agentbuddy.yaml components.parameters.Cursor, responses.CursorNotFound")
def cursor_issued(records: Records) -> list[Finding] | None:
    with_cursor = [e for e in _lists(records) if "cursor=" in e["query"]]
    if not with_cursor:
        return None
    refused = [e for e in with_cursor if e["status"] == 404]
    return [finding(f"a cursor answered 404 invalid_cursor ({times(len(refused))})", refused)] if refused else []


@rule("paging.sweep.incremental", "Syncs changes with updated_since; sweeps a whole collection again at most "
      "once an hour", "DECISIONS Q6, Q8, Part 3 (sync modes); openapi/agentbuddy.yaml "
      "components.parameters.UpdatedSince", WARNING)
def sweep_incremental(records: Records) -> list[Finding] | None:
    started: dict[tuple, dict] = {}
    finished: dict[tuple, list[dict]] = defaultdict(list)  # collection -> the first page of each full sweep
    for entry, query in _received_pages(records):
        if any(name in query for name in FILTERS):
            continue
        key = (entry["client_id"], entry["account_id"], entry["path"])
        if "cursor" not in query:
            started[key] = entry
        if not entry.get("next_cursor") and key in started:
            finished[key].append(started.pop(key))
    if not finished:
        return None
    findings = []
    for (client_id, account_id, path), firsts in finished.items():
        soon = [b for a, b in zip(firsts, firsts[1:])
                if (at(b) - at(a)).total_seconds() < FULL_SWEEP_MIN_INTERVAL_SECONDS]
        if soon:
            findings.append(finding(f"swept all of {path} {len(firsts)} times, {len(soon)} of them within an hour "
                                    "of the one before, where updated_since would do", soon))
    return findings


RULES = [per_page_bounds, cursor_followed, cursor_issued, sweep_incremental]
