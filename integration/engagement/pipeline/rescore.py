"""The daily batch re-score (spec 8 "Daily Batch", Phase 4 "scores update within 24 hours").

Real-time ingest re-scores a contact, and queues its metrics and campaigns, when an event
arrives; this pass catches everything time alone changes (a hot contact who went quiet cools
down, trends shift as windows slide, a factor sentence changes while the score stays put).
Account baseline first (the average every base score compares against), then every contact
from its stored activity — no event log replay.

What goes out: an update per contact whose propensity (any field AgentBuddy shows, factors
included) or trend changed — the propensity when it changed, the full 5.2 metrics (the counters
are restated; only the trend moves with time), and 5.4 campaigns only for a contact AgentBuddy
has no score for yet (campaigns move only with events, and ingest sends those). Contacts that
unsubscribed, complained or hard-bounced are skipped once they have a score: AgentBuddy was told.
Updates travel as `engagement.batch_update` messages of up to `batch_size` (Appendix B).

Set-based and lean, because it touches every contact daily: one read each of contacts,
activity states (without per-email records, see migration 0003), scores and trends; each
contact's signals computed once and shared by score, trend and metrics; contacts without
activity share one score per contact type; bulk writes; history rows only for changed scores.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from common.clock import Clock
from common.timestamps import parse_rfc3339
from integration import outbox
from integration.engagement import (AccountBaseline, ContactActivity, engagement_metrics, score, score_signals,
                                    signals)
from integration.storage import Database

from . import store



@dataclass
class RescoreSummary:
    organization_id: str
    contacts: int = 0
    scored: int = 0
    changed: int = 0
    messages: int = 0
    baseline_open_rate: float = 0.0
    baseline_click_rate: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@contextmanager
def _without_gc() -> Iterator[None]:
    """Hundreds of thousands of small dicts and lists are built and dropped here; the cyclic
    collector would rescan all of them again and again (measured: 3-4x slower). Nothing here
    makes reference cycles, so it is paused for the pass and restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def rescore_all(db: Database, org: str, clock: Clock, *, batch_size: int = 500) -> RescoreSummary:
    summary = RescoreSummary(org)
    with _without_gc():
        # The pass runs in its own frame so its 100,000 activities are freed before the
        # collector is switched back on (else its first full collection walks all of them).
        _rescore(db, org, clock.now(), batch_size, summary)
    return summary


def _rescore(db: Database, org: str, now: datetime, batch_size: int, summary: RescoreSummary) -> None:
    with db.transaction() as tx:
        contacts = {r["id"]: r for r in tx.fetchall(
            "SELECT id, contact_type, email_status FROM contacts WHERE organization_id = ? AND deleted_at IS NULL",
            (org,))}
        activities: dict[str, ContactActivity] = {}
        for row in tx.fetchall("SELECT contact_id, state FROM contact_activity WHERE organization_id = ?", (org,)):
            if row["contact_id"] in contacts:
                activities[row["contact_id"]] = store.scoring_activity(row["state"])
        baseline = AccountBaseline.from_activities(activities.values(), now)
        store.save_baseline(tx, org, baseline, now)
        old = store.current_scores(tx, org)
        summary.contacts = len(contacts)
        summary.baseline_open_rate, summary.baseline_click_rate = baseline.open_rate, baseline.click_rate

        trends = {r["contact_id"]: r["engagement_trend"] for r in tx.fetchall(
            "SELECT contact_id, engagement_trend FROM contact_metrics WHERE organization_id = ?", (org,))}
        changed: list[dict[str, Any]] = []
        metrics_rows = []
        updates: list[dict[str, Any]] = []
        restated: list[str] = []  # updates carrying everything a waiting one-contact update has
        quiet: dict[str | None, Any] = {}  # contacts with no activity score alike, per contact type
        stamps: dict[int, str] = {}  # campaign send time -> ISO text, shared by contacts
        for contact_id, contact in contacts.items():
            if store.is_suppressed(contact["email_status"]) and contact_id in old:
                continue  # AgentBuddy already has the last word on this contact (see docs/pipeline.md)
            activity = activities.get(contact_id)
            contact_type = contact["contact_type"]
            summary.scored += 1
            trend = None
            if activity is None:
                if contact_type not in quiet:
                    quiet[contact_type] = score(ContactActivity(), contact_type, baseline, now)
                propensity = quiet[contact_type].to_contract(contact_id)
            else:
                sig = signals(activity, now)  # once: the score, the trend and the metrics read it
                held = (old.get(contact_id) or {}).get("propensity_category")  # hysteresis: the category it holds
                propensity = score_signals(sig, contact_type, baseline, now, activity.email_status,
                                           previous_category=held)[0].to_contract(contact_id)
                if trends.get(contact_id) != sig.trend:
                    trend = sig.trend
            score_news = store.score_changed(old.get(contact_id), propensity)
            if not score_news and trend is None:
                continue
            update: dict[str, Any] = {"contact_id": contact_id}
            if score_news:
                changed.append(propensity)
                update.update(propensity)
            if activity is not None:
                # The counters only move with events (ingest pushes those); the trend moves with
                # time, and a changed score is worth re-stating the metrics it was computed from.
                # 5.4 campaigns only move with events too: they travel with ingest's update and
                # here only the first time AgentBuddy hears of the contact.
                metrics = engagement_metrics(activity, now, trend=sig.trend)
                metrics_rows.append((contact_id, metrics))
                update["engagement_metrics"] = metrics.to_contract()
                if contact_id not in old:
                    campaigns = store.campaign_update(activity, stamps)
                    if campaigns:
                        update["campaigns"] = campaigns
                    restated.append(contact_id)
            updates.append(update)
        store.upsert_metrics(tx, org, metrics_rows, now)
        store.write_scores(tx, org, changed, "daily_rescore")
        summary.changed = len(changed)
        if updates and store.delivers_to_agentbuddy(tx, org):
            outbox.drop_superseded_propensity(tx, org, [p["contact_id"] for p in changed])
            outbox.drop_superseded_updates(tx, org, restated)
            rows = [
                {"organization_id": org, "connection_id": org, "kind": "batch",
                 "payload": {"updates": updates[start:start + batch_size]}}
                for start in range(0, len(updates), batch_size)
            ]
            outbox.enqueue_many(tx, rows, now)
            summary.messages = len(rows)


def due_for_rescore(db: Database, org: str, now: datetime, interval_hours: float = 24) -> bool:
    """True when the organization's baseline (written by every re-score) is older than the interval."""
    with db.transaction(readonly=True) as tx:
        stamp = tx.fetchval("SELECT computed_at FROM account_baselines WHERE organization_id = ?", (org,))
    if stamp is None:
        return True
    return (now - parse_rfc3339(stamp)).total_seconds() >= interval_hours * 3600
