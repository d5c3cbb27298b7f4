"""Sync semantics: the class of bug that costs sync tools most, records lost at a cursor boundary.

What the contract promises (listContacts and friends): order by `(updated_at, id)`; a keyset
cursor, so a sweep never skips a record and repeats one only when it changed during the sweep
(it moves to the end, seen again with its newest state); `updated_since` inclusive, with
tombstones; filters exact; a cursor that is not the server's own is refused. Each check makes
its own sweeps and, where it needs a change, its own records, so one broken promise fails one
check.
"""
from __future__ import annotations

import base64
import math
import secrets
from collections import Counter
from datetime import timedelta, timezone

from ..model import Fail, Skip, check
from ..paging import sweep
from .api import ENTITIES
from .support import expect_status, parse_time, sort_key

CONCURRENT_WINDOW = 24  # records in the window the concurrent-change sweep walks through
CONCURRENT_PER_PAGE = 4
FILTERS = (("contacts", "office_id"), ("contacts", "agent_id"), ("contacts", "contact_type"), ("agents", "office_id"))


def _small_pages(total: int) -> int:
    """A page size that makes several pages of a small collection, and at most 500 for a big one."""
    return max(1, min(500, math.ceil(total / 5)))


def _total(ctx, path: str, token: str, **params) -> int:
    _, body = ctx.get_json(path, token, per_page=1, **params)
    total = (body.get("pagination") or {}).get("total")
    if not isinstance(total, int):
        raise Fail(f"GET {path} has no pagination.total")
    return total


def _record(ctx, token: str, contact_id: str) -> dict:
    _, body = ctx.get_json(f"/v1/contacts/{contact_id}", token)
    return body


@check("sync.sweep.exactly_once", "A sweep in small pages returns every record exactly once",
       "contract paths./contacts.get (keyset cursor); DECISIONS Q13")
def sweep_exactly_once(ctx):
    token = ctx.token()
    for entity in ENTITIES:
        path = f"/v1/{entity}"
        small = sweep(ctx.probe, path, token, _small_pages(_total(ctx, path, token)))
        repeated = [i for i, n in Counter(small.ids).items() if n > 1]
        if repeated:
            raise Fail(f"GET /{entity} in pages of {small.pages[0].json['pagination']['per_page']} returned "
                       f"{', '.join(map(str, repeated[:5]))} more than once", small.pages[-1].exchange)
        whole = sweep(ctx.probe, path, token, 500)
        lost = set(whole.ids) - set(small.ids)
        if lost:
            raise Fail(f"a sweep of /{entity} in {len(small.pages)} small pages missed {len(lost)} record(s) a sweep "
                       f"in pages of 500 returned: {', '.join(sorted(lost)[:5])}", small.pages[-1].exchange)


@check("sync.sweep.order", "Records come in (updated_at, id) order, across pages too",
       "contract paths./contacts.get description; components.schemas.Pagination")
def sweep_order(ctx):
    token = ctx.token()
    for entity in ENTITIES:
        path = f"/v1/{entity}"
        result = sweep(ctx.probe, path, token, _small_pages(_total(ctx, path, token, include_deleted="true")),
                       {"include_deleted": "true"})
        keys = [sort_key(r) for r in result.records]
        for index in range(1, len(keys)):
            if keys[index] <= keys[index - 1]:
                raise Fail(f"/{entity}: {keys[index][1]} ({result.records[index]['updated_at']}) comes after "
                           f"{keys[index - 1][1]} ({result.records[index - 1]['updated_at']})",
                           result.page_of(index).exchange)


def _boundary(ctx, token: str) -> tuple[str, set[str], list[dict]]:
    """A mid-collection `updated_at` T and the ids of every record (tombstones too) at or after T."""
    records = sweep(ctx.probe, "/v1/contacts", token, 500, {"include_deleted": "true"}).records
    if len(records) < 3:
        raise Skip("the account has fewer than 3 contacts")
    stamp = records[len(records) // 2]["updated_at"]
    boundary = parse_time(stamp)
    return stamp, {r["id"] for r in records if parse_time(r["updated_at"]) >= boundary}, records


@check("sync.updated_since.inclusive", "updated_since returns every record with updated_at >= it, the boundary too",
       "contract components.parameters.UpdatedSince")
def updated_since_inclusive(ctx):
    token = ctx.token()
    stamp, expected, _ = _boundary(ctx, token)
    result = sweep(ctx.probe, "/v1/contacts", token, 500, {"updated_since": stamp})
    got = set(result.ids)
    left_out = {r for r in expected if r not in got}
    if left_out:
        raise Fail(f"updated_since={stamp} left out {len(left_out)} record(s) at or after it "
                   f"({', '.join(sorted(left_out)[:5])})", result.pages[0].exchange)
    early = [r for r in result.records if parse_time(r.get("updated_at")) < parse_time(stamp)]
    if early:
        raise Fail(f"updated_since={stamp} returned {early[0]['id']} updated at {early[0]['updated_at']}",
                   result.pages[0].exchange)
    return f"{len(got)} records since {stamp}"


@check("sync.updated_since.any_offset", "updated_since means the same instant in any RFC 3339 offset",
       "DECISIONS Part 2 #16; contract components.parameters.UpdatedSince")
def updated_since_any_offset(ctx):
    token = ctx.token()
    stamp, _, _ = _boundary(ctx, token)
    in_utc = sweep(ctx.probe, "/v1/contacts", token, 500, {"updated_since": stamp})
    shifted = parse_time(stamp).astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(timespec="milliseconds")
    result = sweep(ctx.probe, "/v1/contacts", token, 500, {"updated_since": shifted})
    if set(result.ids) != set(in_utc.ids):
        raise Fail(f"updated_since={shifted} returned {len(result.ids)} records, but the same instant as {stamp} "
                   f"returned {len(in_utc.ids)}", result.pages[0].exchange)


def _tombstone(ctx, token: str) -> tuple[dict, dict]:
    """A contact the kit created and deleted: (its last live state, its tombstone as GET shows it)."""
    changer = ctx.need_changes()
    contact_id = changer.create_contact()
    live = _record(ctx, token, contact_id)
    changer.delete_contact(contact_id)
    reply = ctx.probe.get(f"/v1/contacts/{contact_id}", token=token)
    return live, reply


@check("sync.tombstones.listed", "A deleted record is listed as a tombstone with updated_since or include_deleted, "
       "and left out of a plain listing", "DECISIONS Q8; contract paths./contacts.get")
def tombstones_listed(ctx):
    token = ctx.token()
    live, _ = _tombstone(ctx, token)
    narrow = {"agent_id": live["agent_id"]} if live.get("agent_id") else {}
    for params in ({"updated_since": live["updated_at"]}, {"include_deleted": "true", **narrow}):
        result = sweep(ctx.probe, "/v1/contacts", token, 500, params)
        found = next((r for r in result.records if r.get("id") == live["id"]), None)
        if found is None or not found.get("deleted_at"):
            raise Fail(f"GET /contacts with {params} {'has no tombstone for' if found is None else 'shows without deleted_at'}"
                       f" the deleted contact {live['id']}", result.pages[-1].exchange)
        errors = ctx.contract.schema_errors("Contact", found)
        if errors:
            raise Fail(f"the tombstone of {live['id']} is not a Contact (its other fields are kept): {errors[0]}",
                       result.pages[-1].exchange)
    plain = sweep(ctx.probe, "/v1/contacts", token, 500, narrow)
    if live["id"] in plain.ids:
        raise Fail(f"a plain GET /contacts (no updated_since, no include_deleted) lists the deleted {live['id']}",
                   plain.pages[-1].exchange)


@check("sync.tombstones.get", "GET of a deleted record returns its tombstone with deleted_at",
       "DECISIONS Q8; contract paths./contacts/{id}.get")
def tombstones_get(ctx):
    token = ctx.token()
    live, reply = _tombstone(ctx, token)
    expect_status(reply, 200, what="GET of a contact deleted moments ago")
    body = reply.json if isinstance(reply.json, dict) else {}
    if not body.get("deleted_at") or body.get("email") != live.get("email"):
        raise Fail(f"GET /contacts/{live['id']} after its deletion shows deleted_at={body.get('deleted_at')!r} "
                   "and does not keep the record's fields", reply.exchange)


@check("sync.incremental.sees_change", "An incremental sweep from the high-water mark sees a change",
       "contract components.parameters.UpdatedSince; DECISIONS Part 4 (sync modes)")
def incremental_sees_change(ctx):
    changer = ctx.need_changes()
    token = ctx.token()
    older = _record(ctx, token, changer.create_contact())
    newest = _record(ctx, token, changer.create_contact())
    mark = newest["updated_at"]
    changer.update_contact(older["id"])
    result = sweep(ctx.probe, "/v1/contacts", token, 500, {"updated_since": mark})
    seen = next((r for r in result.records if r.get("id") == older["id"]), None)
    if seen is None:
        raise Fail(f"contact {older['id']} changed after the high-water mark {mark}, but updated_since={mark} does "
                   "not return it", result.pages[-1].exchange)
    if parse_time(seen.get("updated_at")) <= parse_time(older["updated_at"]):
        raise Fail(f"contact {older['id']} changed but its updated_at stayed {seen.get('updated_at')}",
                   result.pages[-1].exchange)


@check("sync.sweep.concurrent_changes", "A sweep while records change skips nothing and repeats only what changed",
       "contract paths./contacts.get description (a changed record moves to the end); DECISIONS Q13")
def concurrent_changes(ctx):
    changer = ctx.need_changes()
    token = ctx.token()
    records = sweep(ctx.probe, "/v1/contacts", token, 500, {"include_deleted": "true"}).records
    if len(records) < 2 * CONCURRENT_PER_PAGE + 2:
        raise Skip("the account has too few contacts for a sweep of several pages")
    stamp = records[max(0, len(records) - CONCURRENT_WINDOW)]["updated_at"]
    window = {"updated_since": stamp}
    baseline = sweep(ctx.probe, "/v1/contacts", token, 500, window)
    order = [r["id"] for r in baseline.records]
    live = {r["id"] for r in baseline.records if not r.get("deleted_at")}
    touched: list[str] = []

    def change_between_pages(page: int, so_far) -> None:
        if page > 3:
            return
        seen = set(so_far.ids)
        behind = next((i for i in so_far.ids if i in live and i not in touched), None)
        ahead = next((i for i in order if i not in seen and i in live and i not in touched), None)
        for record_id in (behind, ahead):
            if record_id is not None:
                changer.update_contact(record_id)
                touched.append(record_id)

    result = sweep(ctx.probe, "/v1/contacts", token, CONCURRENT_PER_PAGE, window, between=change_between_pages)
    counts = Counter(result.ids)
    missing = [i for i in order if counts[i] == 0]
    if missing:
        raise Fail(f"a sweep while {len(touched)} records changed skipped {', '.join(missing[:5])}",
                   result.pages[-1].exchange)
    repeated = [i for i in order if counts[i] > 1 and i not in touched]
    if repeated:
        raise Fail(f"a sweep while records changed returned unchanged records twice: {', '.join(repeated[:5])}",
                   result.pages[-1].exchange)
    for record_id in touched:
        last = [r for r in result.records if r["id"] == record_id][-1]
        now = _record(ctx, token, record_id)
        if last.get("updated_at") != now.get("updated_at"):
            raise Fail(f"{record_id} changed during the sweep, but the sweep's last copy has updated_at "
                       f"{last.get('updated_at')}, not its newest {now.get('updated_at')}", result.pages[-1].exchange)
    return f"{len(result.pages)} pages, {len(touched)} records changed between pages"


def _filter_check(entity: str, field: str):
    @check(f"sync.filters.{entity}_{field}", f"GET /{entity}?{field}= returns exactly the matching records",
           f"contract paths./{entity}.get parameter {field}")
    def run(ctx):
        token = ctx.token()
        everything = sweep(ctx.probe, f"/v1/{entity}", token, 500).records
        values = Counter(r.get(field) for r in everything if r.get(field) is not None)
        if not values:
            raise Skip(f"no {entity[:-1]} has a {field}")
        value = values.most_common(1)[0][0]
        expected = {r["id"] for r in everything if r.get(field) == value}
        result = sweep(ctx.probe, f"/v1/{entity}", token, 500, {field: value})
        if set(result.ids) != expected or len(result.ids) != len(expected):
            extra, lost = set(result.ids) - expected, expected - set(result.ids)
            raise Fail(f"{field}={value} returned {len(result.ids)} records, expected {len(expected)} "
                       f"(wrong: {', '.join(sorted(extra)[:3]) or '-'}; missing: {', '.join(sorted(lost)[:3]) or '-'})",
                       result.pages[0].exchange)
        if field != "contact_type":
            nothing = sweep(ctx.probe, f"/v1/{entity}", token, 500, {field: f"kit_none_{secrets.token_hex(4)}"})
            if nothing.records:
                raise Fail(f"{field} naming no record returned {len(nothing.records)} records", nothing.pages[0].exchange)
        return f"{field}={value}: {len(expected)} records"

    return run


filter_contacts_office_id = _filter_check("contacts", "office_id")
filter_contacts_agent_id = _filter_check("contacts", "agent_id")
filter_contacts_contact_type = _filter_check("contacts", "contact_type")
filter_agents_office_id = _filter_check("agents", "office_id")


@check("sync.cursor.forged", "A well-formed cursor the server never issued: 404 invalid_cursor",
       "contract components.responses.CursorNotFound; DECISIONS Part 3 (cursors)")
def cursor_forged(ctx):
    token = ctx.token()
    forged = base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()
    reply = ctx.probe.get("/v1/contacts", token=token, params={"cursor": forged})
    expect_status(reply, 404, "invalid_cursor", what="a forged cursor")


@check("sync.cursor.other_query", "A cursor replayed with other filters: 404 invalid_cursor",
       "contract components.parameters.Cursor; components.responses.CursorNotFound")
def cursor_other_query(ctx):
    token = ctx.token()
    _, first = ctx.get_json("/v1/contacts", token, per_page=1, contact_type="buyer")
    cursor = (first.get("pagination") or {}).get("next_cursor")
    if not cursor:
        raise Skip("fewer than two buyers: no cursor to replay")
    reply = ctx.probe.get("/v1/contacts", token=token, params={"per_page": 1, "contact_type": "seller",
                                                              "cursor": cursor})
    expect_status(reply, 404, "invalid_cursor", what="a cursor issued for contact_type=buyer used with seller")


@check("sync.cursor.malformed", "A cursor that breaks the cursor grammar: 400",
       "contract components.parameters.Cursor; components.responses.BadRequest")
def cursor_malformed(ctx):
    token = ctx.token()
    reply = ctx.probe.get("/v1/contacts", token=token, params={"cursor": "not a cursor!"})
    expect_status(reply, 400, ("invalid_request", "validation_failed"), what="a cursor with spaces and '!'")
