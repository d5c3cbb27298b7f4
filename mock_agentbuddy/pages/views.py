"""`/ui/`: what an AgentBuddy user would see of Broadcast's data, for demos and browser tests.

The spec (Phase 3-4) asks that engagement and propensity be "visible in AgentBuddy contact
records"; these pages show exactly what the fake received (the stored contact fields and the
inbound log), never anything computed here, so a demo shows what the wire carried.
Read-only: nothing on these pages changes state.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from common.score_chart import Palette, score_chart_svg
from contract.categories import BANDS, CATEGORIES

from ..state import current_state

PAGE_SIZE = 50
CHART_COLOURS = Palette(line="#2f6fde", grid="#d9e2ec")  # AgentBuddy's blue


@dataclass(frozen=True)
class ContactRow:
    id: str
    name: str
    email: str
    contact_type: str
    agent: str
    score: int | None
    category: str | None
    recommended_action: str | None
    trend: str | None
    open_rate: float | None
    deleted: bool


bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates")


@bp.get("/")
def home():
    return redirect(url_for("ui.contacts"))


@bp.get("/contacts")
def contacts():
    state = current_state()
    with state.lock:
        accounts = list(state.world.accounts.values())
        account = _chosen_account(state, request.args.get("account"))
        rows = _contact_rows(account) if account else []
    category = request.args.get("category") or ""
    query = (request.args.get("q") or "").strip().lower()
    scored_only = request.args.get("scored") == "1"
    shown = [r for r in rows
             if (not category or r.category == category)
             and (not scored_only or r.score is not None)
             and (not query or query in r.name.lower() or query in r.email.lower() or query == r.id)]
    shown.sort(key=_row_order)
    page = _page_number(request.args.get("page"))
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    page = min(page, pages)
    counts = {name: sum(1 for r in rows if r.category == name) for name in CATEGORIES}
    return render_template(
        "ui/contacts.html", accounts=accounts, account=account, rows=shown[(page - 1) * PAGE_SIZE: page * PAGE_SIZE],
        total=len(shown), all_count=len(rows), counts=counts, category=category, q=request.args.get("q") or "",
        scored_only=scored_only, page=page, pages=pages, categories=CATEGORIES)


@bp.get("/contacts/<contact_id>")
def contact(contact_id: str):
    return render_template("ui/contact.html", **_contact_context(contact_id))


@bp.get("/contacts/<contact_id>/live")
def contact_live(contact_id: str):
    """The record's body alone, polled by the page: data from Broadcast shows as it arrives."""
    return render_template("ui/_contact_body.html", **_contact_context(contact_id))


def _contact_context(contact_id: str) -> dict[str, Any]:
    state = current_state()
    with state.lock:
        found = _find_contact(state, contact_id)
        if found is None:
            abort(404)
        account, record = found
        record = json.loads(json.dumps(record))  # a snapshot: the page renders outside the lock
        agent = account.collections["agents"].get(record.get("agent_id") or "") or {}
        office = account.collections["offices"].get(record.get("office_id") or "") or {}
        events = list(state.received.events.get(contact_id, []))
    arrivals = [_inbound_view(e) for e in state.inbound.since(0) if _mentions(e, contact_id)]
    arrivals.reverse()
    propensity = record.get("propensity") or None
    chart = score_chart_svg(_score_points(arrivals, contact_id, propensity), BANDS, CHART_COLOURS)
    return {"account": account, "contact": record, "agent": agent, "office": office,
            "engagement": record.get("engagement") or None, "propensity": propensity,
            "campaigns": record.get("campaigns") or [], "events": sorted(events, key=_event_time, reverse=True),
            "arrivals": arrivals, "chart": chart}


@bp.get("/inbound")
def inbound():
    return render_template("ui/inbound.html", **_inbound_context())


@bp.get("/inbound/live")
def inbound_live():
    """The newest page of the log alone, polled by the page: each signed webhook shows as it lands."""
    return render_template("ui/_inbound_body.html", **_inbound_context())


@bp.get("/clock")
def clock():
    return clock_now()


@bp.app_context_processor
def _clock_global() -> dict[str, Any]:
    return {"clock_now": clock_now}


def clock_now() -> str:
    """AgentBuddy's time as the header shows it (a story moves it with Broadcast's)."""
    return current_state().clock.now().strftime("%a %d %b %Y %H:%M UTC")


def _inbound_context() -> dict[str, Any]:
    log = current_state().inbound
    verdict = request.args.get("verdict") or ""
    entries = [_inbound_view(e) for e in log.since(0)]
    if verdict:
        entries = [e for e in entries if e["verdict"] == verdict]
    entries.reverse()
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(_page_number(request.args.get("page")), pages)
    return {"entries": entries[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], "total": len(entries),
            "verdict": verdict, "page": page, "pages": pages, "last_seq": log.last_seq}


@bp.app_template_filter("pretty_json")
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str)


@bp.errorhandler(404)
def not_found(_error):
    return render_template("ui/message.html", title="Not found",
                           message="There is no such contact in any account of this AgentBuddy."), 404


# ----------------------------------------------------------------------------- contacts

def _chosen_account(state, account_id: str | None):
    if account_id and account_id in state.world.accounts:
        return state.world.accounts[account_id]
    return next(iter(state.world.accounts.values()), None)


def _contact_rows(account) -> list[ContactRow]:
    agents = account.collections["agents"].records
    rows = []
    for record in account.collections["contacts"].records.values():
        propensity = record.get("propensity") or {}
        engagement = record.get("engagement") or {}
        agent = agents.get(record.get("agent_id") or "") or {}
        rows.append(ContactRow(
            id=record["id"], name=f"{record.get('first_name') or ''} {record.get('last_name') or ''}".strip() or record["id"],
            email=record.get("email") or "", contact_type=record.get("contact_type") or "",
            agent=f"{agent.get('first_name', '')} {agent.get('last_name', '')}".strip(),
            score=propensity.get("propensity_score"), category=propensity.get("propensity_category"),
            recommended_action=propensity.get("recommended_action"), trend=engagement.get("engagement_trend"),
            open_rate=engagement.get("open_rate"), deleted=record.get("deleted_at") is not None))
    return rows


def _row_order(row: ContactRow):
    """Scored contacts first, hottest first; then the rest by name (what an agent scans for)."""
    return (row.score is None, -(row.score or 0), row.name.lower(), row.id)


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


def _find_contact(state, contact_id: str):
    for account in state.world.accounts.values():
        record = account.collections["contacts"].get(contact_id)
        if record is not None:
            return account, record
    return None


def _event_time(event: dict) -> str:
    return str(event.get("timestamp") or event.get("received_at") or "")


# ----------------------------------------------------------------------------- score chart

def _score_points(arrivals: list[dict], contact_id: str, latest: dict | None) -> list[tuple[str, int]]:
    """(time, score) of every propensity that arrived for the contact, oldest first."""
    points: list[tuple[str, int]] = []
    for arrival in reversed(arrivals):
        if arrival["duplicate"] or arrival["verdict"] in ("invalid", "rejected"):
            continue
        for found in _propensities(arrival["payload"], contact_id):
            when = str(found.get("score_updated_at") or arrival["time"])
            points.append((when, int(found["propensity_score"])))
    if not points and latest and latest.get("propensity_score") is not None:
        points.append((str(latest.get("score_updated_at") or ""), int(latest["propensity_score"])))
    return sorted(points)


def _propensities(value: Any, contact_id: str, inherited: str | None = None) -> list[dict]:
    found: list[dict] = []
    if isinstance(value, dict):
        owner = value.get("contact_id") if isinstance(value.get("contact_id"), str) else inherited
        score = value.get("propensity_score")
        if isinstance(score, int) and not isinstance(score, bool) and owner in (contact_id, None):
            found.append(value)
        for item in value.values():
            if isinstance(item, (dict, list)):
                found.extend(_propensities(item, contact_id, owner))
    elif isinstance(value, list):
        for item in value:
            found.extend(_propensities(item, contact_id, inherited))
    return found


# ----------------------------------------------------------------------------- inbound log

def _first(entry: dict, *names: str, default: Any = None) -> Any:
    for name in names:
        if entry.get(name) is not None:
            return entry[name]
    return default


def _inbound_view(entry: dict) -> dict:
    """One inbound log entry as the page shows it: when, what, signature verdict, duplicate, payload."""
    signature = _first(entry, "signature", "signature_verdict", "verdict")
    if isinstance(signature, dict):
        signature = _first(signature, "verdict", "status", "result")
    if signature is True:
        signature = "valid"
    elif signature is False:
        signature = "invalid"
    duplicate = bool(_first(entry, "duplicate", default=False))
    status = _first(entry, "status", "status_code")
    payload = _first(entry, "payload", "body", "json", default=None)
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            pass
    return {
        "seq": entry.get("seq"), "time": _first(entry, "time", "received_at", "at", default=""),
        "method": _first(entry, "method", default="POST"), "path": _first(entry, "path", default=""),
        "channel": _first(entry, "channel", "kind", "mode", default=""),
        "event_type": _first(entry, "event_type", default=(payload or {}).get("event_type")
                             if isinstance(payload, dict) else None),
        "verdict": str(signature) if signature is not None else "n/a",
        "duplicate": duplicate, "status": status, "error": _first(entry, "error", "code", "detail"),
        "webhook_id": _first(entry, "webhook_id", "idempotency_key"),
        "contact_ids": _contact_ids(entry, payload), "payload": payload,
    }


def _contact_ids(entry: dict, payload: Any) -> list[str]:
    ids = _first(entry, "contact_ids", default=None)
    if isinstance(ids, list):
        return [str(i) for i in ids]
    single = _first(entry, "contact_id", default=None)
    if single:
        return [str(single)]
    found: list[str] = []
    _collect_contact_ids(payload, found)
    return sorted(set(found))


def _collect_contact_ids(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "contact_id" and isinstance(item, str):
                found.append(item)
            else:
                _collect_contact_ids(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_contact_ids(item, found)


def _mentions(entry: dict, contact_id: str) -> bool:
    return contact_id in _contact_ids(entry, _first(entry, "payload", "body", "json", default=None)) \
        or contact_id in str(entry.get("path") or "")
