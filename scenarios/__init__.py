"""The scenario simulator: Broadcast's email platform and its readers, on a simulated clock.

See docs/ARCHITECTURE.md. Entry points the demo uses:

* `replay_library(names=None, console=None)` — replay library scenarios, return their results;
* `demo_story(result_or_name, contact_id=None, console=None)` — tell one person's story with rich.
"""
from __future__ import annotations

from typing import Any, Iterable


def replay_library(names: Iterable[str] | None = None, *, console=None, agentbuddy_url: str | None = None,
                   seed: int | None = None, jobs: int | None = None, progress=None,
                   on_result=None) -> list[dict[str, Any]]:
    """Replay the named library scenarios (all of them by default) and return their JSON results.

    Replays run side by side in `jobs` processes (see `parallel.replay_many`); `progress(name,
    day, days)` hears each simulated day end, `on_result(result)` each replay as it finishes.
    With a `console` and no `on_result`, each result's table is printed as it arrives.
    """
    from .loader import library_paths, load
    from .parallel import replay_many
    from .views import print_result

    paths = library_paths()
    if names is not None:
        wanted = list(names)
        by_name = {p.stem: p for p in paths}
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise KeyError(f"no library scenario named {', '.join(missing)}; have {', '.join(sorted(by_name))}")
        paths = [by_name[n] for n in wanted]
    if on_result is None and console is not None:
        on_result = lambda result: print_result(result, console)  # noqa: E731
    return replay_many([load(p) for p in paths], seed=seed, jobs=jobs, agentbuddy_url=agentbuddy_url,
                       progress=progress, on_result=on_result)


def demo_story(result_or_name: dict[str, Any] | str, contact_id: str | None = None, *, console=None) -> dict[str, Any]:
    """Render Maria's or James's story (timeline, score moving, what AgentBuddy received, action)."""
    from .views import story

    result = replay_library([result_or_name])[0] if isinstance(result_or_name, str) else result_or_name
    story(result, contact_id or result["contacts"][0]["id"], console)
    return result
