"""Broadcast's pages for a person: Settings → Integrations → AgentBuddy, contacts, one contact.

The spec's Phase 1 "Connection UI" and the place a user sees engagement and propensity. Every
action calls the integration's own modules (connections, sync, outbox); this file only reads
tables for display and turns failures into messages a person can act on, never a stack trace.
One organization per app: `config.default_organization_id`. POST forms carry Flask-WTF's CSRF
token (field `csrf`); an expired or forged one gets `form_expired`'s page.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from common.score_chart import Palette, score_chart_svg
from common.timestamps import parse_rfc3339
from contract.categories import BANDS, CATEGORIES, rank
from integration import outbox, sync as sync_engine
from integration.agentbuddy import connections
from integration.agentbuddy import disconnect as disconnecting
from integration.storage import from_json
from integration.sync import quarantine, runlog

from .runtime import runtime

# Hottest first: a descending sort on this puts hot contacts on top.
_CATEGORY_ORDER = " ".join(f"WHEN '{name}' THEN {len(CATEGORIES) - rank(name)}" for name in CATEGORIES)
SORTS: dict[str, tuple[str, ...]] = {  # ?sort= -> SQL expressions; whitelisted, never taken from input
    "name": ("LOWER(COALESCE(c.last_name, ''))", "LOWER(COALESCE(c.first_name, ''))"),
    "score": ("s.propensity_score",),
    "opens": ("m.total_opens",),
    "open_rate": ("m.open_rate",),
    "clicks": ("m.total_clicks",),
    "last_opened": ("m.last_opened_at",),
    "category": (f"CASE s.propensity_category {_CATEGORY_ORDER} END",),
}
PAGE_SIZE = 50
CHART_COLOURS = Palette(line="#7c3aed", grid="#e5e7eb")  # Broadcast's violet
SETTINGS = "/settings/integrations/agentbuddy"

bp = Blueprint("ui", __name__)


def _org() -> str:
    return runtime().config.default_organization_id


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"settings_url": SETTINGS}


def form_expired(_error: Exception):
    """A POST whose CSRF token is missing, forged or from another session."""
    return _page_error("This form has expired", "Reload the page and try again.", 400)


def _page_error(title: str, message: str, status: int):
    return render_template("message.html", title=title, message=message), status


# ----------------------------------------------------------------------------- settings

@bp.get("/")
def home():
    return redirect(SETTINGS)


@bp.get(SETTINGS)
def settings():
    rt = runtime()
    org = _org()
    connection = connections.get_connection(rt.db, org)
    runs = runlog.recent(rt.db, org)
    last = runs[0] if runs else None
    next_sync = None
    if connection is not None and connection.status == connections.ACTIVE and last is not None:
        next_sync = parse_rfc3339(last["started_at"]) + timedelta(seconds=rt.config.schedule_interval_seconds)
    return render_template(
        "settings.html", connection=connection, agent=_agent(rt.db, org, connection), now=rt.clock.now(),
        runs=runs, last=last, next_sync=next_sync,
        quarantine=quarantine.held(rt.db, org), **_delivery_context(rt.db, org), agentbuddy_url=rt.config.agentbuddy_url,
        scopes_requested=rt.config.scopes, token_expired=_token_expired(connection, rt.clock.now()))


@bp.get(SETTINGS + "/delivery")
def delivery_panel():
    """The delivery card alone: the settings page polls it while a story plays."""
    rt = runtime()
    return render_template("_delivery.html", **_delivery_context(rt.db, _org()))


def _delivery_context(db, org: str) -> dict[str, Any]:
    """Counts, dead letters, and the latest messages that needed more than one try (an outage's
    backlog, drained: when each was queued, when it finally arrived)."""
    with db.transaction(readonly=True) as tx:
        retried = tx.fetchall(
            "SELECT id, kind, contact_id, status, attempts, last_status, last_error, created_at, delivered_at"
            " FROM outbox WHERE organization_id = ? AND merged_into IS NULL AND attempts > 1"
            " ORDER BY created_at DESC, id LIMIT 10", (org,))
    for row in retried:
        row["waited"] = _waited(row["created_at"], row["delivered_at"])
    return {"health": outbox.counts(db, org), "dead": outbox.dead_letters(db, org, limit=50), "retried": retried}


def _waited(queued: str, delivered: str | None) -> str:
    """How long a message waited in the outbox, in words ("5 h 56 min")."""
    if not delivered:
        return ""
    minutes = int((parse_rfc3339(delivered) - parse_rfc3339(queued)).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@bp.post(SETTINGS + "/connect")
def connect():
    rt = runtime()
    # The callback must come back to this very app (host and port the person is using); the
    # authorization server still checks it against the client's registered redirect URIs.
    callback = url_for("ui.callback", _external=True)
    # A person is waiting on this click: one quick retry, not the sync's patient backoff.
    config = rt.config.replace(http_max_retries=min(rt.config.http_max_retries, 1))
    try:
        url, _pending = connections.begin_connect(rt.db, config, _org(), redirect_uri=callback, clock=rt.clock)
    except Exception as exc:  # AgentBuddy down, bad metadata, missing key: say so on the page
        flash(f"Could not start connecting to AgentBuddy at {rt.config.agentbuddy_url}: {_reason(exc)}", "error")
        return redirect(SETTINGS)
    return redirect(url)


@bp.get("/integrations/agentbuddy/callback")
def callback():
    rt = runtime()
    try:
        connection = connections.complete_connect(rt.db, rt.config, request.url, clock=rt.clock)
    except connections.ConnectError as exc:
        flash(_connect_error_message(exc), "error")
        return redirect(SETTINGS)
    except Exception as exc:
        flash(f"Connecting failed: {_reason(exc)}", "error")
        return redirect(SETTINGS)
    flash(f"Connected to AgentBuddy account {connection.account_name or connection.account_id}.", "ok")
    _run_sync(full=False, label="Initial sync")
    return redirect(SETTINGS)


@bp.post(SETTINGS + "/sync")
def sync_now():
    _run_sync(full=request.form.get("full") == "1", label="Sync")
    return redirect(SETTINGS)


@bp.post(SETTINGS + "/disconnect")
def disconnect():
    rt = runtime()
    try:
        result = disconnecting.disconnect(rt.db, rt.config, _org(), clock=rt.clock)
    except connections.NotConnected:
        flash("There is no AgentBuddy connection to disconnect.", "error")
        return redirect(SETTINGS)
    except Exception as exc:
        flash(f"Disconnecting failed: {_reason(exc)}", "error")
        return redirect(SETTINGS)
    if result.revoked_refresh_token or result.revoked_access_token:
        flash("Disconnected. AgentBuddy revoked Broadcast's access; synced contacts are kept.", "ok")
    else:
        flash("Disconnected here, but AgentBuddy did not confirm revoking the tokens (it may be down). "
              "The tokens were erased from Broadcast.", "warn")
    return redirect(SETTINGS)


@bp.post(SETTINGS + "/replay")
def replay():
    rt = runtime()
    ids = request.form.getlist("id") or None
    own = {row["id"] for row in outbox.dead_letters(rt.db, _org(), limit=10_000)}
    if ids is not None:
        ids = [message_id for message_id in ids if message_id in own]
    elif own:
        ids = sorted(own)
    count = outbox.replay(rt.db, rt.clock.now(), ids) if ids else 0
    rt.doorbell.ring()
    flash(f"Queued {count} dead-lettered message{'s' if count != 1 else ''} for delivery again." if count
          else "No dead-lettered messages to replay.", "ok" if count else "warn")
    return redirect(SETTINGS)


def _run_sync(full: bool, label: str) -> None:
    """Run a sync now and put its outcome on the next page; a failure becomes a message."""
    rt = runtime()
    try:
        summary = sync_engine.sync(rt.db, rt.config, _org(), full=full, clock=rt.clock)
    except connections.NotConnected as exc:
        flash(f"{label} did not run: {_not_connected_message(exc)}", "error")
    except sync_engine.SyncBusy:
        flash(f"{label} did not run: another sync of this organization is in progress.", "warn")
    except Exception as exc:
        current_app.logger.warning("sync from the UI failed: %s", exc)
        connection = connections.get_connection(rt.db, _org())
        if connection is not None and connection.status == connections.NEEDS_REAUTH:
            flash(f"{label} failed: {_not_connected_message(connections.NotConnected(_org(), connection.status))}",
                  "error")
        else:
            flash(f"{label} failed: {_reason(exc)}", "error")
    else:
        t = summary.totals
        flash(f"{label} finished: {t.created} created, {t.updated} updated, {t.deleted} deleted, "
              f"{t.unchanged} unchanged, {t.quarantined} quarantined.", "ok")


def _agent(db, org: str, connection) -> dict[str, Any] | None:
    """Who connected, by name once agents are synced (the connection only stores the id)."""
    if connection is None or not connection.agent_id:
        return None
    with db.transaction(readonly=True) as tx:
        return tx.fetchone("SELECT first_name, last_name, email FROM agents WHERE organization_id = ? AND id = ?",
                           (org, connection.agent_id))


def _token_expired(connection, now: datetime) -> bool:
    return bool(connection and connection.token_expires_at and connection.token_expires_at <= now)


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if any(sign in text for sign in ("Connection refused", "Max retries exceeded", "cannot reach",
                                     "Failed to establish")):
        return "AgentBuddy is not reachable (is it running?)"
    return text[:400]


def _connect_error_message(exc: connections.ConnectError) -> str:
    if exc.code == "access_denied":
        return "You did not allow Broadcast to access AgentBuddy, so nothing was connected."
    if exc.code == "invalid_state":
        return "This connect attempt expired or was already used. Click Connect to start again."
    return f"Connecting failed ({exc.code}): {exc}"


def _not_connected_message(exc: connections.NotConnected) -> str:
    if exc.status is None:
        return "AgentBuddy is not connected yet. Connect it first."
    if exc.status == connections.NEEDS_REAUTH:
        return "AgentBuddy no longer accepts Broadcast's access (revoked or expired). Reconnect to continue."
    return f"the connection is {exc.status}."


# ----------------------------------------------------------------------------- contacts

@dataclass(frozen=True)
class ListQuery:
    category: str
    sort: str
    descending: bool
    q: str
    page: int


def _list_query() -> ListQuery:
    args = request.args
    category = args.get("category", "")
    sort = args.get("sort", "score")
    sort = sort if sort in SORTS else "score"
    try:
        page = max(1, int(args.get("page", "1")))
    except ValueError:
        page = 1
    default_dir = "asc" if sort == "name" else "desc"
    return ListQuery(category if category in CATEGORIES else "", sort, args.get("dir", default_dir) != "asc",
                     (args.get("q") or "").strip(), page)


@bp.get("/contacts")
def contacts():
    rt = runtime()
    org = _org()
    query = _list_query()
    where = ["c.organization_id = ?", "c.deleted_at IS NULL"]
    params: list[Any] = [org]
    if query.category:
        where.append("s.propensity_category = ?")
        params.append(query.category)
    if query.q:
        where.append("(LOWER(c.first_name || ' ' || c.last_name) LIKE ? OR LOWER(c.email) LIKE ? OR c.id = ?)")
        like = f"%{query.q.lower()}%"
        params += [like, like, query.q]
    direction = "DESC" if query.descending else "ASC"
    order = ", ".join(f"CASE WHEN ({part}) IS NULL THEN 1 ELSE 0 END, {part} {direction}" for part in SORTS[query.sort])
    base = (" FROM contacts c"
            " LEFT JOIN contact_metrics m ON m.organization_id = c.organization_id AND m.contact_id = c.id"
            " LEFT JOIN contact_scores s ON s.organization_id = c.organization_id AND s.contact_id = c.id"
            " WHERE " + " AND ".join(where))
    with rt.db.transaction(readonly=True) as tx:
        total = tx.fetchval("SELECT COUNT(*)" + base, params)
        rows = tx.fetchall(
            "SELECT c.id, c.first_name, c.last_name, c.email, c.contact_type, c.email_status, c.status,"
            " m.total_emails_sent, m.total_opens, m.total_clicks, m.open_rate, m.click_rate, m.engagement_trend,"
            " m.last_opened_at, s.propensity_score, s.propensity_category, s.recommended_action"
            + base + f" ORDER BY {order}, c.id LIMIT ? OFFSET ?",
            [*params, PAGE_SIZE, (query.page - 1) * PAGE_SIZE])
        counts = {row["propensity_category"]: row["n"] for row in tx.fetchall(
            "SELECT s.propensity_category, COUNT(*) AS n FROM contacts c JOIN contact_scores s"
            " ON s.organization_id = c.organization_id AND s.contact_id = c.id"
            " WHERE c.organization_id = ? AND c.deleted_at IS NULL GROUP BY s.propensity_category", (org,))}
        all_count = tx.fetchval("SELECT COUNT(*) FROM contacts WHERE organization_id = ? AND deleted_at IS NULL", (org,))
    connection = connections.get_connection(rt.db, org)
    pages = max(1, -(-int(total or 0) // PAGE_SIZE))
    return render_template("contacts.html", rows=rows, total=int(total or 0), all_count=int(all_count or 0),
                           counts=counts, query=query, pages=pages, categories=CATEGORIES,
                           connection=connection, link=_link_builder(query))


def _link_builder(query: ListQuery) -> Callable[..., str]:
    def link(**changes: Any) -> str:
        values = {"category": query.category, "sort": query.sort, "dir": "desc" if query.descending else "asc",
                  "q": query.q, "page": query.page}
        if "sort" in changes and "dir" not in changes:  # clicking the sorted column flips it
            same = changes["sort"] == query.sort
            changes["dir"] = ("asc" if query.descending else "desc") if same else \
                ("asc" if changes["sort"] == "name" else "desc")
        if set(changes) - {"page"}:
            values["page"] = 1
        values.update(changes)
        return url_for("ui.contacts", **{k: v for k, v in values.items() if v not in ("", None, 1) or k == "dir"})
    return link


@bp.get("/contacts/<contact_id>")
def contact(contact_id: str):
    return render_template("contact.html", **_contact_context(contact_id))


@bp.get("/contacts/<contact_id>/live")
def contact_live(contact_id: str):
    """The contact page's body alone: polled while a story plays, so the chart grows in place."""
    return render_template("_contact_body.html", **_contact_context(contact_id))


def _contact_context(contact_id: str) -> dict[str, Any]:
    rt = runtime()
    org = _org()
    with rt.db.transaction(readonly=True) as tx:
        row = tx.fetchone("SELECT * FROM contacts WHERE organization_id = ? AND id = ?", (org, contact_id))
        if row is None:
            abort(404)
        metrics = tx.fetchone("SELECT * FROM contact_metrics WHERE organization_id = ? AND contact_id = ?",
                              (org, contact_id))
        score = tx.fetchone("SELECT * FROM contact_scores WHERE organization_id = ? AND contact_id = ?",
                            (org, contact_id))
        history = tx.fetchall("SELECT propensity_score, propensity_category, reason, scored_at FROM score_history"
                              " WHERE organization_id = ? AND contact_id = ? ORDER BY scored_at, id",
                              (org, contact_id))
        events = tx.fetchall(
            "SELECT e.event_type, e.provider_type, e.occurred_at, e.machine, e.machine_reason, e.metadata,"
            " e.campaign_id, k.name AS campaign_name FROM engagement_events e LEFT JOIN campaigns k"
            " ON k.organization_id = e.organization_id AND k.id = e.campaign_id"
            " WHERE e.organization_id = ? AND e.contact_id = ? ORDER BY e.occurred_at DESC, e.id DESC LIMIT 200",
            (org, contact_id))
        deliveries = tx.fetchall(
            "SELECT id, kind, status, attempts, last_status, last_error, created_at, delivered_at FROM outbox"
            " WHERE organization_id = ? AND contact_id = ? AND merged_into IS NULL ORDER BY created_at DESC, id"
            " LIMIT 20", (org, contact_id))
    for event in events:
        event["metadata"] = from_json(event.get("metadata"), {}) or {}
    if score is not None:
        score["contributing_factors"] = from_json(score.get("contributing_factors"), []) or []
    points = [(h["scored_at"], int(h["propensity_score"])) for h in history]
    return {"contact": row, "metrics": metrics, "score": score, "history": history, "events": events,
            "deliveries": deliveries, "chart": score_chart_svg(points, BANDS, CHART_COLOURS),
            "custom_fields": from_json(row.get("custom_fields"), {}) or {}, "tags": from_json(row.get("tags"), []) or []}


@bp.errorhandler(404)
def _not_found(_error):
    return _page_error("Not found", "There is no such contact in Broadcast.", 404)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    """A page that fails says so in words; the details go to the log, not to the person."""
    if isinstance(exc, HTTPException):
        return _page_error(exc.name, exc.description or exc.name, exc.code or 500)
    current_app.logger.exception("page %s failed", request.path)
    return _page_error("Something went wrong", "This page could not be shown; the error was logged. "
                       "If AgentBuddy or the database is down, try again when it is back.", 500)

