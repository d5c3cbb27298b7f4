"""Telling people from machines: privacy-proxy opens and link-scanner clicks.

Apple Mail Privacy Protection fetches every image as soon as a message lands, and corporate
mail gateways "click" every link to scan it. Counted as engagement, both would make an unread
mailbox look hot. Flagged events are kept (with a reason) and excluded from rates and scores.

Two kinds of rule:

* intrinsic rules look at one event alone (user agent, IP address) - `flag_intrinsic`;
* relational rules need the rest of that email's history (how soon after delivery, how many
  other links in the same seconds) - `classify_opens` / `classify_clicks`, which activity state
  re-runs over the whole email whenever the email changes, so the outcome never depends on the
  order in which webhooks arrived.

A rule only ever flags an event by looking at the same or *earlier* events of the email, so a
later click can never turn an earlier click into a machine click.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from .events import EngagementEvent

#: Reason codes (index) <-> reason strings; code 0 means "human".
MACHINE_REASONS: tuple[str, ...] = (
    "",
    "privacy_proxy",          # user agent of a privacy proxy (Apple MPP)
    "apple_proxy_ip",         # open fetched from Apple's network (MPP proxy)
    "open_at_delivery",       # open within seconds of delivery: a prefetch, not a reader
    "scanner_user_agent",     # click by a known security scanner / HTTP library
    "click_at_delivery",      # click within seconds of delivery: a gateway scanning links
    "click_burst",            # several distinct links within seconds: a crawler
    "provider_flagged",       # the provider said so
)
REASON_CODE: dict[str, int] = {name: code for code, name in enumerate(MACHINE_REASONS) if name}
#: Words for contributing factors ("3 machine opens excluded (privacy proxy)").
REASON_WORDS: dict[str, str] = {
    "privacy_proxy": "privacy proxy",
    "apple_proxy_ip": "privacy proxy",
    "open_at_delivery": "privacy proxy",
    "scanner_user_agent": "link scanner",
    "click_at_delivery": "link scanner",
    "click_burst": "link scanner",
    "provider_flagged": "flagged by provider",
}


@dataclass(frozen=True)
class MachineRules:
    """Thresholds and patterns. Every field is a free parameter documented in docs/scoring.md."""

    #: An open this many seconds or less after delivery is a prefetch (Apple MPP opens at delivery).
    open_after_delivery_seconds: int = 60
    #: A click this many seconds or less after delivery is a security gateway scanning links.
    click_after_delivery_seconds: int = 30
    #: A click is a crawler's when, within `click_burst_seconds` before it, at least
    #: `click_burst_links - 1` *other* distinct links of the same email were clicked.
    click_burst_seconds: int = 3
    click_burst_links: int = 3
    #: Open user agents that are privacy proxies (searched, case-insensitive).
    proxy_open_user_agents: tuple[str, ...] = (
        r"^Mozilla/5\.0$",                                          # Apple MPP's bare agent
        r"^Mozilla/5\.0 \(Macintosh; Intel Mac OS X 10_15_7\) AppleWebKit/605\.1\.15 \(KHTML, like Gecko\)$",
        r"YahooMailProxy",
    )
    #: Open user agents that are proxies *on behalf of a reader*: Gmail fetches images when the
    #: message is opened, so these opens are human and win over every other open rule.
    human_proxy_user_agents: tuple[str, ...] = (r"GoogleImageProxy", r"ggpht\.com")
    #: Networks whose opens are privacy-proxy fetches (Apple owns 17.0.0.0/8).
    proxy_open_networks: tuple[str, ...] = ("17.0.0.0/8",)
    #: Click user agents of link scanners, previewers and HTTP libraries.
    scanner_click_user_agents: tuple[str, ...] = (
        r"barracuda", r"mimecast", r"proofpoint", r"symantec", r"trend ?micro", r"forcepoint",
        r"safelinks", r"bingpreview", r"microsoft office/", r"urlscan", r"headlesschrome",
        r"python-requests", r"go-http-client", r"\bcurl/", r"\bwget/", r"libwww", r"\bbot\b",
        r"crawler", r"spider",
    )


DEFAULT_MACHINE_RULES = MachineRules()


@lru_cache(maxsize=64)
def _any(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None


@lru_cache(maxsize=16)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


def _matches(patterns: tuple[str, ...], text: str | None) -> bool:
    compiled = _any(patterns)
    return bool(text and compiled and compiled.search(text))


def _in_networks(cidrs: tuple[str, ...], ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(cidrs))


def intrinsic_reason(event: EngagementEvent, rules: MachineRules = DEFAULT_MACHINE_RULES) -> str | None:
    """Why this event, seen alone, is a machine's; None when it looks human (or isn't an open/click)."""
    if event.event_type == "opened":
        if _matches(rules.human_proxy_user_agents, event.user_agent):
            return None
        if _matches(rules.proxy_open_user_agents, event.user_agent):
            return "privacy_proxy"
        if _in_networks(rules.proxy_open_networks, event.ip):
            return "apple_proxy_ip"
    elif event.event_type == "clicked":
        if _matches(rules.scanner_click_user_agents, event.user_agent):
            return "scanner_user_agent"
    return None


def flag_intrinsic(event: EngagementEvent, rules: MachineRules = DEFAULT_MACHINE_RULES) -> EngagementEvent:
    """The event, marked machine when its own user agent or address gives it away.

    An event already flagged (by the provider, or earlier) stays flagged with its reason.
    """
    if event.machine:
        return event if event.machine_reason else replace(event, machine_reason="provider_flagged")
    reason = intrinsic_reason(event, rules)
    return replace(event, machine=True, machine_reason=reason) if reason else event


def is_human_proxy(event: EngagementEvent, rules: MachineRules = DEFAULT_MACHINE_RULES) -> bool:
    """Gmail-style proxies fetch on open: exempt from the open-at-delivery rule too."""
    return event.event_type == "opened" and _matches(rules.human_proxy_user_agents, event.user_agent)


def classify_opens(opens: list[list[int]], delivered_ts: int | None, rules: MachineRules) -> list[int]:
    """Reason code per open (`[timestamp, intrinsic_code, human_proxy]` rows); 0 = human."""
    window = rules.open_after_delivery_seconds
    out = []
    for ts, code, human_proxy in opens:
        if code == 0 and not human_proxy and delivered_ts is not None and 0 <= ts - delivered_ts <= window:
            code = 3  # open_at_delivery
        out.append(code)
    return out


def classify_clicks(clicks: list[list[int]], delivered_ts: int | None, rules: MachineRules) -> list[int]:
    """Reason code per click (`[timestamp, url_key, category, intrinsic_code]` rows sorted by time)."""
    window = rules.click_after_delivery_seconds
    burst_seconds = rules.click_burst_seconds
    need_others = rules.click_burst_links - 1
    out = []
    for index, (ts, url_key, _category, code) in enumerate(clicks):
        if code == 0 and delivered_ts is not None and 0 <= ts - delivered_ts <= window:
            code = 5  # click_at_delivery
        if code == 0 and need_others > 0 and index:
            others = set()
            for earlier_ts, earlier_key, _c, _r in clicks[index - 1::-1]:
                if ts - earlier_ts > burst_seconds:
                    break
                if earlier_key != url_key:
                    others.add(earlier_key)
            if len(others) >= need_others:
                code = 6  # click_burst
        out.append(code)
    return out
