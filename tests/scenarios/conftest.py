"""Fixtures that read as the stories: `replayed("maria")` is Maria's replay, run once per session."""
from __future__ import annotations

import pytest

from scenarios.story.loader import load
from scenarios.engine import replay


@pytest.fixture(scope="session")
def replayed():
    cache: dict[str, dict] = {}

    def run(name: str) -> dict:
        if name not in cache:
            cache[name] = replay(load(name))
        return cache[name]

    return run
