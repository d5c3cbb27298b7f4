"""What a clicked link is about: the content signals of spec section 6.

A click on "What's Your Home Worth?" is a seller signal, a property page a buyer signal, mortgage
rates a transaction signal. Rules are data (regexes over the URL's path and query, then the
campaign's kind tag) so an account can teach the classifier its own URL scheme.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

CATEGORIES: tuple[str, ...] = ("other", "valuation", "listing", "financing", "market_update")
#: Small integer codes so per-contact state stays compact; index into CATEGORIES.
CATEGORY_CODE: dict[str, int] = {name: code for code, name in enumerate(CATEGORIES)}


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class ContentRule:
    """`pattern` (a case-insensitive regex) searched in the link's path + query."""

    category: str
    pattern: str

    def __post_init__(self) -> None:
        if self.category not in CATEGORY_CODE:
            raise ValueError(f"unknown content category {self.category!r}")
        _compiled(self.pattern)  # fail at configuration time, not on the first click


@dataclass(frozen=True)
class ContentRules:
    """URL rules are tried in order (first match wins); the kind map is the fallback.

    The first default rule sends housekeeping links (unsubscribe, preferences, view in browser)
    to `other` so a click on "unsubscribe" in a listing email is never a buyer signal.
    """

    url_rules: tuple[ContentRule, ...] = (
        ContentRule("other", r"unsubscribe|preferences|view-in-browser|/privacy|/terms"),
        ContentRule("valuation", r"home-?worth|home-?value|valuation|/cma\b|what-?s-?my-?home"),
        ContentRule("financing", r"mortgage|financ|pre-?approv|/rates?\b|loan|calculator"),
        ContentRule("listing", r"/listings?\b|/propert(y|ies)\b|/homes?/|/mls\b|open-?house|listing_id="),
        ContentRule("market_update", r"market-?(update|report|stats)|/market\b|/reports?/"),
    )
    #: Campaign kind tag -> category, used when no URL rule matches.
    kind_categories: dict[str, str] = field(default_factory=lambda: {
        "market_update": "market_update",
        "newsletter": "other",
        "valuation": "valuation",
        "listing": "listing",
        "listing_alert": "listing",
        "new_listings": "listing",
        "just_listed": "listing",
        "open_house": "listing",
        "just_sold": "market_update",
        "financing": "financing",
        "mortgage": "financing",
    })

    def __post_init__(self) -> None:
        for category in self.kind_categories.values():
            if category not in CATEGORY_CODE:
                raise ValueError(f"unknown content category {category!r}")


DEFAULT_CONTENT_RULES = ContentRules()


def categorise_campaign(kind: str | None, rules: ContentRules = DEFAULT_CONTENT_RULES) -> str:
    """The category of an email as a whole, from its campaign kind tag."""
    if not kind:
        return "other"
    return rules.kind_categories.get(kind.strip().lower(), "other")


def categorise_link(url: str | None, campaign_kind: str | None = None,
                    rules: ContentRules = DEFAULT_CONTENT_RULES) -> str:
    """The content category of a clicked link (path and query only: hosts are not content)."""
    if url:
        parts = urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        for rule in rules.url_rules:
            if _compiled(rule.pattern).search(target):
                return rule.category
    return categorise_campaign(campaign_kind, rules)
