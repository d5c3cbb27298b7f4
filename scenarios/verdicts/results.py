"""The replay's result as one JSON document: deterministic, sorted, free of wall-clock times.

Replaying the same scenario and seed twice gives byte-identical JSON, so results can be
diffed between commits and stored next to a report.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from scenarios.story import model as m

from .observations import Observations, event_type, is_machine

PROPENSITY_FIELDS = ("propensity_score", "propensity_category", "seller_likelihood", "buyer_activity_score",
                     "recommended_action", "contributing_factors")


def _point(day: int, record: dict | None) -> dict[str, Any]:
    record = record or {}
    propensity = record.get("propensity") or {}
    engagement = record.get("engagement") or {}
    point = {"day": day, **{k: propensity.get(k) for k in PROPENSITY_FIELDS}}
    point["engagement_trend"] = engagement.get("engagement_trend")
    point["deleted"] = bool(record.get("deleted_at"))
    return point


def timeline(snapshots: list[dict]) -> list[dict]:
    """Each day AgentBuddy's view of the contact changed (what the agent would have seen)."""
    points: list[dict] = []
    for snap in snapshots:
        point = _point(snap["day"], snap.get("record"))
        if not points or {k: v for k, v in point.items() if k != "day"} != \
                {k: v for k, v in points[-1].items() if k != "day"}:
            points.append(point)
    return points


def _event_view(event: dict) -> dict:
    metadata = event.get("metadata") or {}
    view = {"event_type": event_type(event), "campaign_id": event.get("campaign_id"),
            "timestamp": event.get("timestamp"), "event_id": event.get("event_id")}
    if metadata.get("url"):
        view["url"] = metadata["url"]
    if is_machine(event):
        view["machine"] = True
    return view


def deliveries(received: list[dict], wire: dict[str, list[int]] | None = None) -> list[dict]:
    """What AgentBuddy holds for a contact: each event, how many times it is there (`count`),
    in how many accepted requests it arrived (`requests`) and how many repeats were refused."""
    wire = wire or {}
    counts = Counter(tuple(sorted(_event_view(e).items())) for e in received)
    out = []
    for items, n in sorted(counts.items(), key=lambda kv: str(kv[0])):
        row = dict(items) | {"count": n}
        accepted, repeats = wire.get(row.get("event_id") or "", [0, 0])
        row["requests"], row["refused_repeats"] = accepted, repeats
        out.append(row)
    return out


def build(scenario: m.Scenario, obs: Observations, outcomes: list[dict], error: str | None,
          log: list[dict], gaps: list[str] = ()) -> dict[str, Any]:
    """The result document; `log` is the story's lines, `gaps` what the replay could not play."""
    expected_contacts = {e.contact for e in scenario.expectations}
    contacts = []
    for contact in scenario.all_contacts():
        snaps = obs.snapshots.get(contact.id) or []
        final = snaps[-1] if snaps else {}
        received = final.get("events") or []
        points = timeline(snaps)
        contacts.append({
            "id": contact.id, "agentbuddy_id": obs.ab_ids.get(contact.id), "name": contact.name,
            "type": contact.type, "archetype": contact.archetype, "expected": contact.id in expected_contacts,
            "final": {k: v for k, v in (points[-1] if points else {}).items() if k != "day"},
            "timeline": points,
            "received": dict(sorted(Counter(event_type(e) + (" (machine)" if is_machine(e) else "")
                                            for e in received).items())),
            "deliveries": deliveries(received, obs.on_the_wire(contact.id)),
            "requests": obs.requests_for(contact.id),
        })
    return {
        "scenario": scenario.name, "description": scenario.description, "seed": scenario.seed,
        "start": scenario.start.isoformat(), "days": scenario.days,
        "passed": error is None and all(o["passed"] for o in outcomes) and not gaps,
        "error": error, "gaps": sorted(set(gaps)),
        "expectations": outcomes, "contacts": contacts,
        "events": obs.emitted, "sends": obs.sends, "log": log,
    }
