"""`contributing_factors`: what drove a score, in short sentences of the spec's style.

Plain counts an agent can check against the email history ("5/5 emails opened in 30 days",
"2 valuation link clicks in 14 days"), the contact's intent first, then the open rate when it
moved the score, the trend, and what was excluded as machine engagement.
"""
from __future__ import annotations

from .activity import DAY
from .content import CATEGORY_CODE
from .machine import REASON_WORDS
from .scoring_config import ScoringConfig
from .signals import Signals

_LISTING = CATEGORY_CODE["listing"]
_OPEN_REASONS = frozenset({"privacy_proxy", "apple_proxy_ip", "open_at_delivery"})
#: (link category, words for its clicks, intent it speaks for)
_CLICK_LINES = (("valuation", "valuation link click", "seller"), ("market_update", "market update click", "seller"),
                ("listing", "property click", "buyer"), ("financing", "financing link click", "buyer"))


def factors(sig: Signals, open_points: float, seller_first: bool, config: ScoringConfig) -> tuple[str, ...]:
    """At most `max_factors` sentences, the strongest signal of the contact's intent first."""
    lines: dict[str, list[str]] = {"seller": [], "buyer": []}
    for category, words, intent in _CLICK_LINES:
        ages = [a for a in sig.click_ages_by_category[CATEGORY_CODE[category]] if a < config.factor_recent_days * DAY]
        if ages:
            lines[intent].append(f"{_plural(len(ages), words)} in {_within(ages)}")
        if category == "listing" and sig.engaged_by_kind_recent[_LISTING] >= 2:
            lines["buyer"].append(f"{sig.engaged_by_kind_recent[_LISTING]} listing emails opened in "
                                  f"{config.surge_window_days} days")
    out = lines["seller"] + lines["buyer"] if seller_first else lines["buyer"] + lines["seller"]
    if sig.recent_delivered and sig.recent_opened:
        out.insert(0 if seller_first else len(out),
                   f"{sig.recent_opened}/{sig.recent_delivered} emails opened in {config.factor_recent_days} days")
    if sig.window_delivered and abs(open_points) >= config.open_points_max / 4:
        rate = round(100 * min(1.0, sig.window_opened / sig.window_delivered))
        out.append(f"{rate}% open rate ({'above' if open_points > 0 else 'below'} average)")
    out.append(f"engagement trend: {sig.trend}")
    if sig.trend == "inactive" and sig.delivered_ever:
        out.append(f"no opens or clicks in {config.trend_inactive_days} days")
    for kind, total in (("open", sig.machine_opens), ("click", sig.machine_clicks)):
        if total:
            words = sorted({REASON_WORDS[r] for r, n in sig.machine_reasons.items()
                            if n and r != "provider_flagged" and (r in _OPEN_REASONS) == (kind == "open")})
            reason = f" ({', '.join(words)})" if words else ""
            out.append(f"{_plural(total, 'machine ' + kind)} excluded{reason}")
    return tuple(out[: config.max_factors])


def _within(ages: list[int]) -> str:
    """The tightest of 7 / 14 / 30 days that holds every age."""
    oldest = max(ages)
    for days in (7, 14, 30):
        if oldest < days * DAY:
            return f"{days} days"
    return f"{-(-oldest // DAY)} days"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
