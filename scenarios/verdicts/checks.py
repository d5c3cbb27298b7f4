"""Expectations, judged against what the fake AgentBuddy holds — not what Broadcast believes.

`check_all` turns each expectation into named checks over the `Observations` (see
observations.py), with expected and actual values, so a failure says exactly what differed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.timestamps import format_us, parse_rfc3339
from contract.categories import rank

from scenarios.story import model as m

from .observations import Observations, event_type, is_machine

CONTRACT_EVENTS = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed", "complained")


def _second(value: str | None) -> int | None:
    if not value:
        return None
    return int(parse_rfc3339(value).timestamp())


def _key(kind: str, campaign: str | None, at: str | None, url: str | None) -> tuple:
    return (kind, campaign, _second(at), url or None)


@dataclass
class Check:
    check: str
    expected: Any
    actual: Any
    passed: bool


def check_all(scenario: m.Scenario, obs: Observations) -> list[dict]:
    outcomes = []
    for e in scenario.expectations:
        checks = _checks(scenario, e, obs)
        outcomes.append({"index": e.index, "label": e.label, "contact": e.contact, "day": e.day,
                         "passed": all(c.passed for c in checks) and bool(checks),
                         "checks": [c.__dict__ for c in checks]})
    return outcomes


def _checks(s: m.Scenario, e: m.Expectation, obs: Observations) -> list[Check]:
    out: list[Check] = []
    if e.weekly_moves_at_most is not None:
        out.append(_weekly_moves(e, obs, e.until_day if e.until_day is not None else s.days))
    if e.until_day is not None:
        return out + _every_day(e, obs) + _other_checks(s, e, obs)
    return out + _score_checks(e, obs) + _other_checks(s, e, obs)


def _every_day(e: m.Expectation, obs: Observations) -> list[Check]:
    """The score checks of `e`, at the end of every day from `day` to `until_day`: one Check
    each, whose actual value lists the days (and what AgentBuddy held) where it failed."""
    failures: dict[str, list[str]] = {}
    names: list[str] = []
    for day in range(e.day, e.until_day + 1):
        for check in _score_checks(e, obs, day):
            if check.check not in names:
                names.append(check.check)
            if not check.passed:
                failures.setdefault(check.check, []).append(f"day {day}: {check.actual}")
    return [Check(f"{name} on every day {e.day}-{e.until_day}", "all", failures.get(name, [])[:5] or "all",
                  name not in failures) for name in names]


def _weekly_moves(e: m.Expectation, obs: Observations, last: int) -> Check:
    """How far apart (in bands) the categories held at consecutive week ends are, at most."""
    held = []
    for day in range(e.day, last + 1, 7):
        snap = obs.at_day(e.contact, day)
        category = (((snap or {}).get("record") or {}).get("propensity") or {}).get("propensity_category")
        held.append((day, category))
    moves = [(a, b, abs(rank(b) - rank(a))) for (_, a), (_, b) in zip(held, held[1:]) if a and b]
    widest = max((n for _, _, n in moves), default=0)
    steps = " ".join(f"{category or '-'}@{day}" for day, category in held)
    return Check(f"bands moved between week ends {e.day}-{last}", f"at most {e.weekly_moves_at_most}",
                 f"{widest} ({steps})", widest <= e.weekly_moves_at_most and all(c for _, c in held))


def _score_checks(e: m.Expectation, obs: Observations, day: int | None = None) -> list[Check]:
    out: list[Check] = []
    day = e.day if day is None else day
    snap = obs.at_day(e.contact, day)
    record = (snap or {}).get("record") or {}
    propensity = record.get("propensity") or {}
    engagement = record.get("engagement") or {}
    if snap is None and _needs_score(e):
        return [Check(f"AgentBuddy's record at the end of day {day}", "a snapshot", "none taken", False)]

    for name in ("propensity_score", "seller_likelihood", "buyer_activity_score"):
        wanted: m.Range | None = getattr(e, name)
        if wanted is not None:
            actual = propensity.get(name)
            out.append(Check(name, str(wanted), actual, actual in wanted))
    if e.category is not None:
        actual = propensity.get("propensity_category")
        out.append(Check("propensity_category", e.category, actual, actual == e.category))
    if e.category_not:
        actual = propensity.get("propensity_category")
        out.append(Check("propensity_category not in", list(e.category_not), actual,
                         actual is not None and actual not in e.category_not))
    if e.recommended_action is not None:
        actual = propensity.get("recommended_action")
        out.append(Check("recommended_action", e.recommended_action, actual,
                         isinstance(actual, str) and e.recommended_action.lower() in actual.lower()))
    for factor in e.factors_contain:
        factors = propensity.get("contributing_factors") or []
        out.append(Check("contributing_factors contain", factor, factors,
                         any(factor.lower() in str(f).lower() for f in factors)))
    if e.engagement_trend is not None:
        actual = engagement.get("engagement_trend")
        out.append(Check("engagement_trend", e.engagement_trend, actual, actual == e.engagement_trend))
    return out


def _other_checks(s: m.Scenario, e: m.Expectation, obs: Observations) -> list[Check]:
    out: list[Check] = []
    received = obs.received(e.contact)
    for r in e.received:
        matching = [ev for ev in received if event_type(ev) == r.event and not is_machine(ev)
                    and (r.campaign is None or ev.get("campaign_id") == r.campaign)]
        what = f"AgentBuddy received {r.event}" + (f" of {r.campaign}" if r.campaign else "")
        if r.count is not None:
            out.append(Check(what, r.count, len(matching), len(matching) == r.count))
        if r.min_count is not None:
            out.append(Check(what + " (at least)", r.min_count, len(matching), len(matching) >= r.min_count))
    if e.every_event_exactly_once:
        out.extend(_exactly_once(e.contact, obs))
    if e.no_email_after_unsubscribe:
        out.extend(_no_email_after_unsubscribe(e.contact, obs))
    if e.no_email_after_day is not None:
        out.extend(_no_email_after(s.at(e.no_email_after_day + 1), f"end of day {e.no_email_after_day}", e.contact, obs))
    if e.nothing_pushed_after_day is not None:
        out.append(_nothing_pushed_after(e.contact, e.nothing_pushed_after_day, obs))
    for name, value in e.agentbuddy_contact:
        out.append(_field_check(f"AgentBuddy contact.{name}", value, record_final(obs, e.contact).get(name)))
    for name, value in e.broadcast_contact:
        row = obs.broadcast_rows.get(e.contact) or {}
        actual = bool(row.get("deleted_at")) if name == "deleted" else _decode(row.get(name))
        out.append(_field_check(f"Broadcast contact.{name}", value, actual))
    return out


def _needs_score(e: m.Expectation) -> bool:
    return any(getattr(e, n) is not None for n in ("propensity_score", "seller_likelihood", "buyer_activity_score",
                                                    "category", "recommended_action", "engagement_trend")) \
        or bool(e.category_not or e.factors_contain)


def record_final(obs: Observations, contact: str) -> dict:
    snap = obs.final(contact)
    return (snap or {}).get("record") or {}


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _field_check(what: str, expected: Any, actual: Any) -> Check:
    if isinstance(expected, list):
        ok = isinstance(actual, list) and set(expected) <= set(actual)
        return Check(what + " includes", expected, actual, ok)
    return Check(what, expected, actual, actual == expected)


def _exactly_once(contact: str, obs: Observations) -> list[Check]:
    """Every human event Broadcast accepted reached AgentBuddy once: none lost, none doubled."""
    expected: dict[tuple, int] = {}
    for ev in obs.emitted:
        if ev["contact"] != contact or ev.get("machine") or ev["type"] not in CONTRACT_EVENTS:
            continue
        if not (isinstance(ev.get("status"), int) and 200 <= ev["status"] < 300) and ev.get("status") != "ingested":
            continue
        key = _key(ev["type"], ev["campaign"], ev["at"], ev.get("link_url"))
        expected[key] = 1
    got: dict[tuple, int] = {}
    for ev in obs.received(contact):
        if is_machine(ev):
            continue
        metadata = ev.get("metadata") or {}
        key = _key(event_type(ev), ev.get("campaign_id"), ev.get("timestamp"), metadata.get("url"))
        got[key] = got.get(key, 0) + 1
    lost = sorted((k for k in expected if k not in got), key=str)
    doubled = sorted(((k, n) for k, n in got.items() if n > 1), key=str)
    resent = sorted(f"{event_id} in {n} requests" for event_id, (n, _dup) in obs.on_the_wire(contact).items() if n > 1)
    return [Check("events lost on the way to AgentBuddy", 0, [_words(k) for k in lost][:10] or 0, not lost),
            Check("events AgentBuddy holds more than once", 0, [f"{_words(k)} x{n}" for k, n in doubled][:10] or 0,
                  not doubled),
            Check("events delivered in more than one accepted request", 0, resent[:10] or 0, not resent),
            Check("events Broadcast accepted from the provider", ">0", len(expected), bool(expected))]


def _words(key: tuple) -> str:
    kind, campaign, second, url = key
    at = format_us(second * 1_000_000, digits=0) if second is not None else "?"
    return f"{kind} {campaign} {at}" + (f" {url}" if url else "")


def _no_email_after_unsubscribe(contact: str, obs: Observations) -> list[Check]:
    stops = [ev["at"] for ev in obs.emitted if ev["contact"] == contact and ev["type"] in ("unsubscribed", "complained")]
    if not stops:
        return [Check("the contact unsubscribed", "an unsubscribe", "none happened", False)]
    stop = min(stops)
    return _no_email_after(parse_rfc3339(stop), f"the unsubscribe at {stop}", contact, obs)


def _no_email_after(moment: datetime, label: str, contact: str, obs: Observations) -> list[Check]:
    late_sends = [f"{s['campaign']} #{s['number']} at {s['at']}" for s in obs.sends
                  if s["contact"] == contact and s["outcome"] == "sent" and _after(s["at"], moment)]
    late_received = [f"{ev.get('campaign_id')} at {ev.get('timestamp')}" for ev in obs.received(contact)
                     if event_type(ev) == "sent" and _after(ev.get("timestamp"), moment)]
    refused = [s["outcome"] for s in obs.sends if s["contact"] == contact and s["outcome"] != "sent"
               and _after(s["at"], moment)]
    return [Check(f"emails Broadcast sent after {label}", 0, late_sends or 0, not late_sends),
            Check(f"'sent' events AgentBuddy received after {label}", 0, late_received or 0, not late_received),
            Check(f"sends Broadcast refused after {label}", "reasons", sorted(set(refused)) or "none scheduled", True)]


def _after(value: str | None, moment: datetime) -> bool:
    return bool(value) and parse_rfc3339(value) >= moment


def _nothing_pushed_after(contact: str, day: int, obs: Observations) -> Check:
    then, final = obs.at_day(contact, day), obs.final(contact)
    if then is None or final is None:
        return Check(f"nothing pushed after day {day}", "snapshots", "missing", False)

    def shape(snap: dict) -> tuple:
        record = snap.get("record") or {}
        return (len(snap.get("events") or []), record.get("propensity"), record.get("engagement"),
                record.get("campaigns"))

    changed = [name for name, a, b in zip(("events", "propensity", "engagement", "campaigns"), shape(then), shape(final))
               if a != b]
    return Check(f"AgentBuddy's record changed by Broadcast after day {day}", "no change",
                 changed or "no change", not changed)
