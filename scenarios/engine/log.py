"""The story's log: what happened, when, to whom — told as it happens and kept for the result."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Callable

from scenarios.story import model as m

Line = dict  # {"day", "at", "what", "contact"?}


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class Log:
    """Lines in the order they happened; `on_line(line)` hears each one the moment it is added."""

    def __init__(self, scenario: m.Scenario, on_line: Callable[[Line], None] | None = None) -> None:
        self.scenario = scenario
        self.on_line = on_line
        self.lines: list[Line] = []

    def add(self, at: datetime, what: str, contact: str | None = None) -> None:
        entry = {"day": math.floor(self.scenario.day_of(at)), "at": iso(at), "what": what}
        if contact:
            entry["contact"] = contact
        self.lines.append(entry)
        if self.on_line is not None:
            self.on_line(dict(entry))
