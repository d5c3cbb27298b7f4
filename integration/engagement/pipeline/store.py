"""Reading and writing derived engagement: activity state, 5.2 metrics, 5.3 scores, baselines.

Shared by real-time ingest (a few contacts per transaction) and the daily re-score (every
contact, set-based): both go through these functions so a score means the same thing whichever
path wrote it. Writes are `executemany` upserts; reads are one `IN (...)` query per 500 ids or
one scan per organization.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence

from common.timestamps import parse_rfc3339
from integration.engagement import AccountBaseline, ContactActivity, EngagementMetrics
from integration.engagement.email_record import CAMPAIGN_STATUSES
from integration.engagement.events import iso
from integration.storage import Tx, format_ts, from_json, in_lists, to_json
from integration.sync.conflicts import SUPPRESSED_STATUSES

SCORE_FIELDS = ("propensity_score", "propensity_category", "seller_likelihood", "buyer_activity_score",
                "recommended_action")
#: The 5.2 fields AgentBuddy displays; a change in any of them is news.
METRIC_FIELDS = ("total_emails_sent", "total_opens", "total_clicks", "open_rate", "click_rate",
                 "last_email_sent_at", "last_opened_at", "last_clicked_at", "engagement_trend")
MAX_CAMPAIGNS = 100  # the contract's limit per update
def delivers_to_agentbuddy(tx: Tx, org: str) -> bool:
    """Queue for AgentBuddy only when the organization has a connection it has not disconnected."""
    status = tx.fetchval("SELECT status FROM connections WHERE organization_id = ?", (org,))
    return status is not None and status != "disconnected"


def contact_rows(tx: Tx, org: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for marks, chunk in in_lists(ids):
        for row in tx.fetchall(
            f"SELECT id, contact_type, email_status, deleted_at FROM contacts WHERE organization_id = ?"
            f" AND id IN ({marks})", (org, *chunk),
        ):
            found[row["id"]] = row
    return found


def load_activities(tx: Tx, org: str, ids: Sequence[str], now: datetime, *, lock: bool = False) -> dict[str, ContactActivity]:
    """The contacts' activity (a fresh one when none is stored).

    With `lock`, rows are created if missing and locked (`FOR UPDATE` on PostgreSQL) so two
    concurrent ingests for one contact serialise instead of losing an update.
    """
    ids = sorted(ids)  # one lock order for every transaction: concurrent batches cannot deadlock
    if lock:
        empty = to_json(ContactActivity().to_dict())
        tx.executemany(
            "INSERT INTO contact_activity (organization_id, contact_id, state, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (organization_id, contact_id) DO NOTHING",
            [(org, contact_id, empty, now) for contact_id in ids],
        )
    suffix = " FOR UPDATE" if lock and tx.dialect == "postgresql" else ""
    out: dict[str, ContactActivity] = {}
    for marks, chunk in in_lists(ids):
        for row in tx.fetchall(
            f"SELECT contact_id, state, sends FROM contact_activity WHERE organization_id = ?"
            f" AND contact_id IN ({marks}) ORDER BY contact_id{suffix}", (org, *chunk),
        ):
            out[row["contact_id"]] = activity_from_row(row["state"], row["sends"])
    for contact_id in ids:
        activity = out.setdefault(contact_id, ContactActivity(contact_id))
        if activity.contact_id is None:
            activity.contact_id = contact_id
    return out


def activity_from_row(state: str, sends: str | None) -> ContactActivity:
    """A stored activity: `state` plus its per-email records (their own column since 0003;
    older rows still carry them inside `state`)."""
    data = from_json(state)
    if sends is not None:
        data["sends"] = from_json(sends)
    return ContactActivity.from_dict(data)


def scoring_activity(state: str) -> ContactActivity:
    """An activity for scoring only, from `state` alone: per-email records are not decoded.
    Never save it back (its records would be lost); the re-score does not."""
    return ContactActivity.from_dict(from_json(state))


def save_activities(tx: Tx, org: str, activities: dict[str, ContactActivity], now: datetime) -> None:
    rows = []
    stamp = format_ts(now)
    for contact_id, activity in activities.items():
        state = activity.to_dict()
        sends = state.pop("sends", None)
        rows.append((org, contact_id, to_json(state), to_json(sends or {}), stamp))
    tx.bulk_upsert("contact_activity", ("organization_id", "contact_id", "state", "sends", "updated_at"), rows,
                   key=("organization_id", "contact_id"), update=("state", "sends", "updated_at"))


def load_baseline(tx: Tx, org: str) -> AccountBaseline:
    row = tx.fetchone("SELECT state FROM account_baselines WHERE organization_id = ?", (org,))
    if row is None:
        return AccountBaseline.default()
    state = from_json(row["state"])
    return AccountBaseline(float(state["open_rate"]), float(state["click_rate"]), int(state.get("delivered", 0)))


def save_baseline(tx: Tx, org: str, baseline: AccountBaseline, now: datetime) -> None:
    state = {"open_rate": baseline.open_rate, "click_rate": baseline.click_rate, "delivered": baseline.delivered}
    tx.execute(
        "INSERT INTO account_baselines (organization_id, state, computed_at) VALUES (?, ?, ?)"
        " ON CONFLICT (organization_id) DO UPDATE SET state = excluded.state, computed_at = excluded.computed_at",
        (org, to_json(state), now),
    )


def is_suppressed(email_status: str | None) -> bool:
    """Unsubscribed, complained or hard-bounced: the email channel is closed for good.

    Once AgentBuddy has the event and the score that says so ("Call instead - ..."), nothing
    more is pushed: the only thing that could still move the numbers is time decaying a channel
    that no longer exists, which would tell the agent "cold" where the truth is "call instead".
    """
    return email_status in SUPPRESSED_STATUSES


def current_scores(tx: Tx, org: str, ids: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Stored 5.3 rows by contact (all of the organization's when `ids` is None);
    `contributing_factors` stays canonical JSON text (compared, not decoded)."""
    columns = "contact_id, " + ", ".join(SCORE_FIELDS) + ", contributing_factors"
    if ids is None:
        return {r["contact_id"]: r for r in tx.fetchall(f"SELECT {columns} FROM contact_scores WHERE organization_id = ?", (org,))}
    out: dict[str, dict[str, Any]] = {}
    for marks, chunk in in_lists(ids):
        for row in tx.fetchall(
            f"SELECT {columns} FROM contact_scores WHERE organization_id = ? AND contact_id IN ({marks})",
            (org, *chunk),
        ):
            out[row["contact_id"]] = row
    return out


def score_changed(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """A score is news when anything AgentBuddy shows changed (not merely its timestamp):
    the numbers, the category, the action, and the contributing factors — a contact whose
    score stays 0 while its factors go from "trend: decreasing" to "trend: inactive" must
    not leave AgentBuddy showing the old sentence."""
    if old is None:
        return True
    if any(old.get(name) != new.get(name) for name in SCORE_FIELDS):
        return True
    return old.get("contributing_factors") != to_json(new.get("contributing_factors") or [])


def current_metrics(tx: Tx, org: str, ids: Sequence[str]) -> dict[str, tuple]:
    """Stored 5.2 rows as tuples of `METRIC_FIELDS` (timestamps as stored text), by contact."""
    columns = ", ".join(METRIC_FIELDS)
    out: dict[str, tuple] = {}
    for marks, chunk in in_lists(ids):
        for row in tx.fetchall(
            f"SELECT contact_id, {columns} FROM contact_metrics WHERE organization_id = ?"
            f" AND contact_id IN ({marks})", (org, *chunk),
        ):
            out[row["contact_id"]] = tuple(row[name] for name in METRIC_FIELDS)
    return out


def metrics_key(m: EngagementMetrics) -> tuple:
    """`m` in the shape `current_metrics` returns, so "changed?" is one tuple comparison."""
    return (m.total_emails_sent, m.total_opens, m.total_clicks, m.open_rate, m.click_rate,
            _ts(m.last_email_sent_at), _ts(m.last_opened_at), _ts(m.last_clicked_at), m.engagement_trend)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else format_ts(value)


_SCORE_COLUMNS = ("organization_id", "contact_id", "propensity_score", "propensity_category", "seller_likelihood",
                  "buyer_activity_score", "recommended_action", "contributing_factors", "score_updated_at")
_METRIC_COLUMNS = ("organization_id", "contact_id", *METRIC_FIELDS, "computed_at")


def write_scores(tx: Tx, org: str, payloads: Sequence[dict[str, Any]], reason: str) -> None:
    """Upsert the latest 5.3 rows and append them to the score history (changed scores only:
    callers pass what changed, so history is one row per change, not per re-score)."""
    if not payloads:
        return
    stamps: dict[str, str] = {}  # a re-score stamps every payload alike: convert once
    rows = []
    for p in payloads:
        text = p["score_updated_at"]
        stamp = stamps.get(text)
        if stamp is None:
            stamp = stamps[text] = format_ts(parse_rfc3339(text))
        rows.append((org, p["contact_id"], p["propensity_score"], p["propensity_category"], p["seller_likelihood"],
                     p["buyer_activity_score"], p["recommended_action"], to_json(p["contributing_factors"]), stamp))
    tx.bulk_upsert("contact_scores", _SCORE_COLUMNS, rows, key=("organization_id", "contact_id"),
                   update=_SCORE_COLUMNS[2:])
    tx.executemany(
        "INSERT INTO score_history (organization_id, contact_id, propensity_score, propensity_category,"
        " seller_likelihood, buyer_activity_score, reason, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(r[0], r[1], r[2], r[3], r[4], r[5], reason, r[8]) for r in rows], adapted=True,
    )


def upsert_metrics(tx: Tx, org: str, rows: Sequence[tuple[str, EngagementMetrics]], now: datetime) -> None:
    computed = format_ts(now)
    tx.bulk_upsert(
        "contact_metrics", _METRIC_COLUMNS,
        [(org, contact_id, *metrics_key(m), computed) for contact_id, m in rows],
        key=("organization_id", "contact_id"), update=_METRIC_COLUMNS[2:],
    )


def campaign_update(activity: ContactActivity, stamps: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """5.4 rows as the contract takes them, newest first, at most `MAX_CAMPAIGNS` — the same as
    `campaign_participation(...)[i].to_contract()` (tested), built straight from the stored
    tuples: a full re-score makes millions of these, and most contacts share the same few
    campaign send times, so `stamps` caches their ISO text across contacts."""
    stamps = {} if stamps is None else stamps
    rows = sorted(((sent_ts, campaign_id, name, status)
                   for campaign_id, (name, sent_ts, status, _email) in activity.campaigns.items()
                   if status and sent_ts is not None), reverse=True)[:MAX_CAMPAIGNS]
    out = []
    for sent_ts, campaign_id, name, status in rows:
        stamp = stamps.get(sent_ts)
        if stamp is None:
            stamp = stamps[sent_ts] = iso(datetime.fromtimestamp(sent_ts, timezone.utc))
        row = {"id": campaign_id, "name": name, "sent_at": stamp, "status": CAMPAIGN_STATUSES[status]}
        if name is None:
            del row["name"]
        out.append(row)
    return out
