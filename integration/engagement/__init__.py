"""Engagement and propensity on Broadcast's side: pure domain, no database, no HTTP.

The flow other rooms wire up::

    verified = verify_resend_signature(body, headers, secret, clock)     # providers
    result = parse_resend_event(verified.payload, provider_event_id=verified.message_id)
    if result.event:                                                    # else: stored, not mapped
        event = prepare(result.event)                                   # link category, machine flag
        activity.apply(event)                                           # activity (idempotent)
    engagement_metrics(activity, as_of)  -> 5.2                         # metrics
    campaign_participation(activity)     -> 5.4
    sig = signals(activity, as_of)                                      # signals: what scoring reads
    score_signals(sig, contact_type, baseline, as_of, previous_category=held) -> 5.3   # scoring

See docs/scoring.md for every definition and parameter.
"""
from __future__ import annotations

from dataclasses import replace

from .activity import ContactActivity
from .content import DEFAULT_CONTENT_RULES, ContentRule, ContentRules, categorise_campaign, categorise_link
from .events import CONTRACT_EVENT_TYPES, EVENT_TYPES, INTERNAL_EVENT_TYPES, EngagementEvent, natural_event_id
from .machine import DEFAULT_MACHINE_RULES, MachineRules, flag_intrinsic
from .metrics import CampaignParticipation, EngagementMetrics, campaign_participation, engagement_metrics
from .providers import (ParseResult, ProviderPayloadError, SignatureError, VerifiedWebhook, parse_resend_event,
                        unsubscribe_event, verify_resend_signature)
from .scoring import AccountBaseline, Propensity, categorise, score, score_signals
from .scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig
from .signals import Signals, signals


def prepare(event: EngagementEvent, machine_rules: MachineRules = DEFAULT_MACHINE_RULES,
            content_rules: ContentRules = DEFAULT_CONTENT_RULES) -> EngagementEvent:
    """Give a parsed event its link category and its intrinsic machine verdict (before storing it)."""
    if event.event_type == "clicked" and event.link_category is None:
        event = replace(event, link_category=categorise_link(event.url, event.campaign_kind, content_rules))
    return flag_intrinsic(event, machine_rules)


__all__ = [
    "AccountBaseline", "CONTRACT_EVENT_TYPES", "CampaignParticipation", "ContactActivity", "ContentRule",
    "ContentRules", "DEFAULT_CONTENT_RULES", "DEFAULT_MACHINE_RULES", "DEFAULT_SCORING_CONFIG", "EVENT_TYPES",
    "EngagementEvent", "EngagementMetrics", "INTERNAL_EVENT_TYPES", "MachineRules", "ParseResult", "Propensity",
    "ProviderPayloadError", "ScoringConfig", "SignatureError", "Signals", "VerifiedWebhook",
    "campaign_participation", "categorise", "categorise_campaign", "categorise_link", "engagement_metrics",
    "flag_intrinsic", "natural_event_id", "parse_resend_event", "prepare", "score", "score_signals", "signals",
    "unsubscribe_event", "verify_resend_signature",
]
