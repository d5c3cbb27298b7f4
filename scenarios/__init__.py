"""The scenario simulator: Broadcast's email platform and its readers, on a simulated clock.

See docs/ARCHITECTURE.md. Entry points the demo uses:

* `replay_library(names=None, console=None)` — replay library scenarios, return their results;
* `demo_story(result_or_name, contact_id=None, console=None)` — tell one person's story with rich.
"""
from __future__ import annotations

from typing import Any, Iterable


def replay_library(names: Iterable[str] | None = None, *, console=None, agentbuddy_url: str | None = None,
                   seed: int | None = None) -> list[dict[str, Any]]:
    """Replay the named library scenarios (all of them by default) and return their JSON results."""
    from .loader import library_paths, load
    from .replay import replay
    from .views import print_result

    paths = library_paths()
    if names is not None:
        wanted = list(names)
        by_name = {p.stem: p for p in paths}
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise KeyError(f"no library scenario named {', '.join(missing)}; have {', '.join(sorted(by_name))}")
        paths = [by_name[n] for n in wanted]
    results = []
    for path in paths:
        result = replay(load(path), agentbuddy_url=agentbuddy_url, seed=seed, console=console)
        if console is not None:
            print_result(result, console)
        results.append(result)
    return results


def demo_story(result_or_name: dict[str, Any] | str, contact_id: str | None = None, *, console=None) -> dict[str, Any]:
    """Render Maria's or James's story (timeline, score moving, what AgentBuddy received, action)."""
    from .views import story

    result = replay_library([result_or_name])[0] if isinstance(result_or_name, str) else result_or_name
    story(result, contact_id or result["contacts"][0]["id"], console)
    return result
