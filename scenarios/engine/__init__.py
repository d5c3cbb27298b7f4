"""The engine: a story played through the real integration and the fake AgentBuddy.

    from scenarios.engine import Stack, Story, replay
    story = Story(scenario, stack, on_line=print)   # on a stack that is already running
    story.start()
    while story.step_day(): ...                     # one simulated day at a time
    result = story.finish(); story.close()          # the same JSON as `ab-harness replay --json`

Owns `stack` (what a story plays on, and the one set-up of a stack of its own: temporary
database, in-process fake, Broadcast's web app), `story` (the loop over the `plan`), `mail`
(Broadcast's campaigns and Resend's webhooks), `agentbuddy` (the fake through its admin API:
clock, people, edits, fault windows), `delivery` (the outbox on a simulated clock), `observe`
(end-of-day snapshots of what AgentBuddy holds), `log`, `replay` and `many` (the library in
processes).

May import: `scenarios.story`, `scenarios.people`, `scenarios.verdicts`, `scenarios.views`
(to print a result as it arrives), `scenarios.processes`, the integration's public functions
(never its tables), `mock_agentbuddy.admin.client`, and — in `stack` only — the fake's
`create_app`, to start it in-process. Nothing in `scenarios` but `cli` imports the engine.
"""
from __future__ import annotations

from .many import replay_library, replay_many
from .replay import replay
from .stack import Stack, local_stack
from .broadcast import StoryError
from .story import Story

__all__ = ["Stack", "Story", "StoryError", "local_stack", "replay", "replay_library", "replay_many"]
