"""Provider webhooks in: verify, store, fold into activity, re-score, queue for AgentBuddy.

Everything one webhook (or one simulator batch) causes happens in ONE transaction: the stored
event, the contact's activity, metrics and score, the email status, and the outbox rows that
tell AgentBuddy. A crash leaves either all of it or none of it, and the outbox guarantees what
was stored is eventually delivered.

Deduplication happens twice: the Svix message id (`provider_webhooks_seen`, a provider retry)
and the event's natural key (`engagement_events.provider_event_key`, the same event under a new
message id). Unknown provider event types are stored as `unmapped` and acknowledged with 2xx:
a provider that adds a type tomorrow must not see us fail.

What is queued (docs/pipeline.md, "What goes out, and when"): each event at once; the contact's
score when anything AgentBuddy shows changed; its 5.2 metrics and 5.4 campaigns as a one-contact
`engagement.batch_update` after a short debounce. A contact already unsubscribed, complained or
hard-bounced gets its events sent but no further scores or metrics: AgentBuddy was told once.

Webhooks arriving together share a transaction (group commit, `group_commit.py`); each is
answered only after the transaction holding its event has committed.

Kept whole: what one webhook's transaction does — attribute, deduplicate, store, fold, score,
queue — reads as one story here; split, every step would import the others' private helpers.

Machine-generated events (privacy-proxy opens, link-scanner clicks) are stored flagged, do not
count in metrics or scores, and are still sent to AgentBuddy in real time with
`metadata.machine_generated: true` (and `machine_reason`): AgentBuddy sees the same event log
Broadcast does and can decide what to show, while the numbers it receives are already human-only.
"""
from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from common.clock import Clock
from integration import outbox
from integration.engagement import (
    ContactActivity, EngagementEvent, ProviderPayloadError, SignatureError, engagement_metrics,
    parse_resend_event, prepare, score_signals, signals, unsubscribe_event, verify_resend_signature,
)
from integration.engagement.activity import url_key
from integration.engagement.machine import MACHINE_REASONS, classify_clicks, classify_opens
from integration.outbox import Doorbell
from integration.storage import Database, Tx, to_json
from integration.sync.contacts import STATUS_RANK

from . import store
from .campaigns import find_sends
from .group_commit import committer_for

PROVIDER = "resend"
#: Statuses an event puts on the contact so campaigns.py never emails them again.
STATUS_OF = {"unsubscribed": "unsubscribed", "complained": "complained"}
#: Events that can move a contact's 5.4 campaign rows (status delivered/opened/clicked/bounced).
CAMPAIGN_EVENTS = frozenset({"sent", "delivered", "opened", "clicked", "bounced"})
#: How long a contact's metrics update waits for more events of the same burst (spec 5.2 is
#: "periodic"; events themselves go out at once, spec: within 60 s).
METRICS_DEBOUNCE = timedelta(seconds=30)


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str
    field: str | None = None


@dataclass
class IngestSummary:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unmapped: int = 0
    unmatched: int = 0  # no send record / contact to attribute the event to
    machine: int = 0
    enqueued_events: int = 0
    propensity_changes: int = 0
    metric_updates: int = 0
    status_changes: int = 0
    event_ids: list[str] = field(default_factory=list)


@dataclass
class IngestResult:
    status: str  # accepted | duplicate | unmapped | rejected
    message_id: str | None = None
    summary: IngestSummary | None = None
    problem: Problem | None = None

    def receipt(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "webhook_id": self.message_id}
        if self.summary is not None:
            out["stored"] = self.summary.stored
            out["duplicates"] = self.summary.duplicates
        return out


# ----------------------------------------------------------------------------- entry points

def ingest_provider_webhook(
    db: Database, org: str | None, headers: Mapping[str, str], body: bytes | str, clock: Clock, *,
    secret: str, default_organization_id: str | None = None, doorbell: Doorbell | None = None,
) -> IngestResult:
    """One Resend webhook. `org=None` attributes it by its send record (else the default org)."""
    try:
        verified = verify_resend_signature(body, headers, secret, clock)
    except SignatureError as exc:
        return IngestResult("rejected", problem=Problem(401, exc.code, str(exc)))
    except ProviderPayloadError as exc:
        return IngestResult("rejected", problem=Problem(400, "invalid_request", exc.message, exc.path))
    try:
        parsed = parse_resend_event(verified.payload, provider_event_id=verified.message_id)
    except (ProviderPayloadError, ValueError) as exc:
        path = getattr(exc, "path", "$")
        return IngestResult("rejected", verified.message_id,
                            problem=Problem(400, "invalid_request", getattr(exc, "message", str(exc)), path))
    work = _Webhook(org, verified.message_id, verified.payload, parsed, default_organization_id, clock)
    return committer_for(db).run(work, functools.partial(_commit_webhooks, doorbell=doorbell))


@dataclass(frozen=True)
class _Webhook:
    """A verified, parsed webhook waiting for its transaction."""

    org: str | None
    message_id: str
    payload: Any
    parsed: Any  # providers.ParseResult
    default_organization_id: str | None
    clock: Clock


def _commit_webhooks(tx: Tx, pending: list, *, doorbell: Doorbell | None):
    """Store a group of webhooks in one transaction (group_commit.py); each pending item gets
    its IngestResult. Events are folded per organization in one pass of the pipeline, as a
    simulator batch is; a webhook's answer says whether its own event was stored."""
    now = pending[0].work.clock.now()
    fresh: dict[str, list] = defaultdict(list)
    unattributed = [item.work.parsed.event.email_id for item in pending
                    if item.work.org is None and item.work.parsed.event is not None and item.work.parsed.event.email_id]
    sends = find_sends(tx, unattributed) if unattributed else {}
    for item in pending:
        hook: _Webhook = item.work
        event = hook.parsed.event
        org = hook.org or _attribute(sends, event, hook.default_organization_id)
        if org is None:
            item.outcome = IngestResult("rejected", hook.message_id, problem=Problem(
                422, "validation_failed", "no send record matches this email and no default organization is set",
                "$.data.email_id"))
            continue
        first_time = tx.execute(
            "INSERT INTO provider_webhooks_seen (organization_id, provider, message_id, received_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (organization_id, provider, message_id) DO NOTHING",
            (org, PROVIDER, hook.message_id, now),
        )
        if not first_time:
            item.outcome = IngestResult("duplicate", hook.message_id, IngestSummary(received=1, duplicates=1))
        elif event is None:
            _store_unmapped(tx, org, hook.message_id, hook.parsed.provider_type, hook.payload, now)
            item.outcome = IngestResult("unmapped", hook.message_id, IngestSummary(received=1, stored=1, unmapped=1))
        else:
            fresh[org].append(item)
    ring = False
    for org, items in fresh.items():
        summary = _ingest(tx, org, [item.work.parsed.event for item in items], now)
        ring = ring or bool(summary.enqueued_events or summary.propensity_changes or summary.metric_updates)
        if len(items) == 1:  # alone: its answer carries the whole summary, as it always did
            items[0].outcome = IngestResult("accepted" if summary.stored else "duplicate", items[0].work.message_id,
                                            summary)
            continue
        stored = set(summary.event_ids)
        for item in items:  # the first webhook of an event id stored it; any other is its duplicate
            event_id = item.work.parsed.event.event_id
            mine = event_id in stored
            stored.discard(event_id)
            item.outcome = IngestResult("accepted" if mine else "duplicate", item.work.message_id, IngestSummary(
                received=1, stored=int(mine), duplicates=int(not mine), event_ids=[event_id] if mine else []))
    if ring and doorbell is not None:
        return doorbell.ring
    return None


def ingest_events(
    db: Database, org: str, events: Sequence[EngagementEvent], clock: Clock, *, doorbell: Doorbell | None = None,
) -> IngestSummary:
    """In-process ingest (simulator, backfills): the whole batch in one transaction."""
    with db.transaction() as tx:
        summary = _ingest(tx, org, list(events), clock.now())
    _ring(doorbell, summary)
    return summary


def record_unsubscribe(
    db: Database, org: str, contact_id: str, clock: Clock, *, email_id: str | None = None,
    campaign_id: str | None = None, source: str = "unsubscribe_link", doorbell: Doorbell | None = None,
) -> IngestSummary:
    """Broadcast's own unsubscribe link: the contact is never emailed again and AgentBuddy is told."""
    event = unsubscribe_event(contact_id=contact_id, occurred_at=clock.now(), email_id=email_id,
                              campaign_id=campaign_id, source=source)
    return ingest_events(db, org, [event], clock, doorbell=doorbell)


def _ring(doorbell: Doorbell | None, summary: IngestSummary) -> None:
    if doorbell is not None and (summary.enqueued_events or summary.propensity_changes or summary.metric_updates):
        doorbell.ring()


def _attribute(sends: dict[str, dict], event: EngagementEvent | None, default: str | None) -> str | None:
    if event is not None and event.email_id:
        send = sends.get(event.email_id)
        if send is not None:
            return send["organization_id"]
    return default


def _store_unmapped(tx: Tx, org: str, message_id: str, provider_type: str, payload: Any, now: datetime) -> None:
    occurred = payload.get("created_at") if isinstance(payload, dict) else None
    email_id = (payload.get("data") or {}).get("email_id") if isinstance(payload, dict) and isinstance(payload.get("data"), dict) else None
    tx.execute(
        "INSERT INTO engagement_events (id, organization_id, provider, provider_event_key, provider_type, event_type,"
        " provider_email_id, occurred_at, received_at, raw) VALUES (?, ?, ?, ?, ?, 'unmapped', ?, ?, ?, ?)"
        " ON CONFLICT (organization_id, provider, provider_event_key) DO NOTHING",
        (f"unm_{message_id}", org, PROVIDER, f"svix:{message_id}", provider_type[:200],
         email_id if isinstance(email_id, str) else None, occurred if isinstance(occurred, str) else now, now,
         to_json(payload)),
    )


# ----------------------------------------------------------------------------- the pipeline

def _ingest(tx: Tx, org: str, events: list[EngagementEvent], now: datetime) -> IngestSummary:
    summary = IngestSummary(received=len(events))
    sends = find_sends(tx, [event.email_id for event in events if event.email_id], org)
    events = [prepare(_resolve(event, sends.get(event.email_id) if event.email_id else None)) for event in events]
    fresh = _store_new(tx, org, events, summary, now)
    by_contact: dict[str, list[EngagementEvent]] = defaultdict(list)
    for event in fresh:
        if event.contact_id:
            by_contact[event.contact_id].append(event)
        else:
            summary.unmatched += 1
    if not by_contact:
        return summary
    deliver = store.delivers_to_agentbuddy(tx, org)
    contacts = store.contact_rows(tx, org, list(by_contact))
    activities = store.load_activities(tx, org, list(by_contact), now, lock=True)
    was_suppressed = {cid for cid, row in contacts.items() if store.is_suppressed(row.get("email_status"))}
    # AgentBuddy deleted these: it would answer 404 to anything about them, forever. Their events
    # are kept (and scored) here; nothing about them is queued for AgentBuddy.
    gone = {cid for cid, row in contacts.items() if row.get("deleted_at")}
    touched_campaigns: set[str] = set()  # contacts whose 5.4 rows may have moved
    outgoing: list[dict[str, Any]] = []
    flagged: list[tuple[int, str | None, str, str]] = []
    status_updates: list[tuple[str, datetime, str, str]] = []
    for contact_id, items in by_contact.items():
        activity = activities[contact_id]
        for event in sorted(items, key=lambda e: e.occurred_at):
            activity.apply(event)
            event = _with_machine_verdict(activity, event)
            if event.machine:
                summary.machine += 1
                flagged.append((1, event.machine_reason, org, event.event_id))
            new_status = _status_after(event)
            if new_status and STATUS_RANK[new_status] > STATUS_RANK.get(contacts.get(contact_id, {}).get("email_status") or "subscribed", 0):
                status_updates.append((new_status, now, org, contact_id))
                contacts.setdefault(contact_id, {})["email_status"] = new_status
                summary.status_changes += 1
            if event.event_type in CAMPAIGN_EVENTS and not event.machine:
                touched_campaigns.add(contact_id)
            if deliver and contact_id not in gone and event.is_contract_event and (
                    event.campaign_id or event.event_type == "unsubscribed"):  # preference centre: no campaign
                outgoing.append({"organization_id": org, "connection_id": org, "kind": "event",
                                 "contact_id": contact_id, "payload": wire_event(event)})
    if flagged:
        tx.executemany(
            "UPDATE engagement_events SET machine = ?, machine_reason = ? WHERE organization_id = ? AND id = ?", flagged)
    if status_updates:
        tx.executemany(
            "UPDATE contacts SET email_status = ?, email_status_updated_at = ? WHERE organization_id = ? AND id = ?",
            status_updates)
    if outgoing:
        outbox.enqueue_many(tx, outgoing, now)
        summary.enqueued_events = len(outgoing)
    store.save_activities(tx, org, activities, now)
    _rescore_and_queue(tx, org, activities, contacts, was_suppressed | gone, touched_campaigns, deliver, summary, now,
                       gone=gone)
    return summary


def _rescore_and_queue(tx: Tx, org: str, activities: dict[str, ContactActivity], contacts: dict[str, dict],
                       was_suppressed: set[str], touched_campaigns: set[str], deliver: bool,
                       summary: IngestSummary, now: datetime, *, gone: frozenset[str] | set[str] = frozenset()) -> None:
    """Fresh metrics and score for each touched contact; what changed goes to AgentBuddy.

    A contact suppressed *before* this batch is not pushed again (its events still are): the
    event that suppressed it already carried the last score AgentBuddy needs.
    """
    baseline = store.load_baseline(tx, org)
    ids = list(activities)
    old_scores = store.current_scores(tx, org, ids)
    old_metrics = store.current_metrics(tx, org, ids)
    metrics_rows = []
    changed_scores = []
    propensities: dict[str, dict[str, Any]] = {}  # queued together: one round of statements per group
    updates: dict[str, dict[str, Any]] = {}
    for contact_id, activity in activities.items():
        sig = signals(activity, now)
        metrics = engagement_metrics(activity, now, trend=sig.trend)
        metrics_rows.append((contact_id, metrics))
        if contact_id in was_suppressed and contact_id in old_scores:
            continue
        contact_type = (contacts.get(contact_id) or {}).get("contact_type")
        held = (old_scores.get(contact_id) or {}).get("propensity_category")  # hysteresis: the category it holds
        payload = score_signals(sig, contact_type, baseline, now, activity.email_status,
                                previous_category=held)[0].to_contract(contact_id)
        if store.score_changed(old_scores.get(contact_id), payload):
            changed_scores.append(payload)
            summary.propensity_changes += 1
            if deliver and contact_id not in gone:
                propensities[contact_id] = payload
        if contact_id in was_suppressed:
            continue
        metrics_news = old_metrics.get(contact_id) != store.metrics_key(metrics)
        if deliver and (metrics_news or contact_id in touched_campaigns):
            update: dict[str, Any] = {"engagement_metrics": metrics.to_contract()}
            campaigns = store.campaign_update(activity)
            if campaigns:
                update["campaigns"] = campaigns
            updates[contact_id] = update
            summary.metric_updates += 1
    outbox.queue_propensities(tx, organization_id=org, connection_id=org, payloads=propensities, now=now)
    outbox.queue_updates(tx, organization_id=org, connection_id=org, updates=updates, now=now, delay=METRICS_DEBOUNCE)
    store.write_scores(tx, org, changed_scores, "event")
    store.upsert_metrics(tx, org, metrics_rows, now)


def _resolve(event: EngagementEvent, send: dict | None) -> EngagementEvent:
    """The send record is authoritative for who and which campaign (tags are a hint)."""
    if send is None:
        return event
    return replace(
        event, contact_id=send["contact_id"], campaign_id=send["campaign_id"],
        campaign_name=send["campaign_name"] or event.campaign_name,
        campaign_kind=send["campaign_kind"] or event.campaign_kind,
    )


def _store_new(tx: Tx, org: str, events: list[EngagementEvent], summary: IngestSummary,
               now: datetime) -> list[EngagementEvent]:
    """Insert each event once; returns those not seen before (in input order)."""
    fresh: list[EngagementEvent] = []
    seen: set[str] = set()
    for event in events:
        if event.event_id in seen:
            summary.duplicates += 1
            continue
        seen.add(event.event_id)
        inserted = tx.execute(
            "INSERT INTO engagement_events (id, organization_id, provider, provider_event_key, provider_type,"
            " event_type, contact_id, campaign_id, provider_email_id, occurred_at, received_at, machine,"
            " machine_reason, metadata, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (event.event_id, org, PROVIDER, event.event_id, _provider_type(event), event.event_type, event.contact_id,
             event.campaign_id, event.email_id, event.occurred_at, now, event.machine,
             event.machine_reason, to_json(_metadata(event)), to_json(event.raw or {})),
        )
        if inserted:
            fresh.append(event)
            summary.stored += 1
            summary.event_ids.append(event.event_id)
        else:
            summary.duplicates += 1
    return fresh


def _provider_type(event: EngagementEvent) -> str:
    raw_type = (event.raw or {}).get("type")
    return raw_type if isinstance(raw_type, str) else f"broadcast.{event.event_type}"


def _metadata(event: EngagementEvent) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("url", "link_category", "bounce_type", "user_agent", "ip"):
        value = getattr(event, key)
        if value is not None:
            out[key] = value
    return out


def wire_event(event: EngagementEvent) -> dict[str, Any]:
    """The 5.1 event as queued for AgentBuddy (option-neutral; `wire` renders it per option)."""
    data = {"contact_id": event.contact_id, **event.to_contract()}  # the contact travels with the message
    metadata = data.pop("metadata") or {}
    if metadata.pop("machine", False) or event.machine:
        metadata["machine_generated"] = True
        if event.machine_reason:
            metadata["machine_reason"] = event.machine_reason
    if metadata:
        data["metadata"] = metadata
    for optional in ("campaign_id", "campaign_name"):  # absent, never null (an unsubscribe may have no campaign)
        if not data.get(optional):
            data.pop(optional, None)
    return data


def _status_after(event: EngagementEvent) -> str | None:
    if event.event_type in STATUS_OF:
        return STATUS_OF[event.event_type]
    if event.event_type == "bounced" and event.bounce_type == "hard":
        return "bounced"
    return None


def _with_machine_verdict(activity: ContactActivity, event: EngagementEvent) -> EngagementEvent:
    """Intrinsic flags come from `prepare`; relational ones (open at delivery, click bursts) from
    re-classifying the email's record, which the activity keeps after `apply`."""
    if event.machine or event.event_type not in ("opened", "clicked") or not event.email_id:
        return event
    send = activity.sends.get(event.email_id)
    if send is None:
        return event
    ts = int(event.occurred_at.timestamp())
    rules = activity.machine_rules
    if event.event_type == "opened":
        codes = classify_opens(send.opens, send.delivered_ts, rules)
        match = [code for row, code in zip(send.opens, codes) if row[0] == ts]
    else:
        key = url_key(event.url)
        codes = classify_clicks(send.clicks, send.delivered_ts, rules)
        match = [code for row, code in zip(send.clicks, codes) if row[0] == ts and row[1] == key]
    if match and match[0]:
        return replace(event, machine=True, machine_reason=MACHINE_REASONS[match[0]])
    return event
