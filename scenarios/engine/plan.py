"""The story's plan: every scheduled thing as a heap of moments, earliest first.

At equal instants the rank decides: fault windows and AgentBuddy edits first, then sends, then
the people's day, then the events people cause, and the day's end (sync, re-score, snapshot) last.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from scenarios.people.timeline import Person, send_plan
from scenarios.story import model as m

FAULT, AGENTBUDDY_CHANGE, SEND, PEOPLE, EVENT, DAY_END = 0, 1, 2, 3, 4, 5


@dataclass(order=True)
class Item:
    at: datetime
    rank: int
    seq: int
    kind: str = field(compare=False)
    payload: Any = field(compare=False, default=None)


class Plan:
    def __init__(self) -> None:
        self.heap: list[Item] = []
        self.seq = itertools.count()

    def push(self, at: datetime, rank: int, kind: str, payload: Any = None) -> None:
        heapq.heappush(self.heap, Item(at, rank, next(self.seq), kind, payload))

    def pop(self) -> Item:
        return heapq.heappop(self.heap)

    def __bool__(self) -> bool:
        return bool(self.heap)

    def people(self, day: int, people: Iterable[Person], last_send: datetime | None, now: datetime) -> None:
        """Plan each person's clicks, unsubscribes and complaints of `day`, after the day's sends."""
        if last_send is not None and last_send > now:
            self.push(last_send + timedelta(seconds=1), PEOPLE, "people", day)
            return
        for person in people:
            for event in person.actions_on(day):
                self.push(max(event.at, now), EVENT, "event", event)

    @classmethod
    def of(cls, scenario: m.Scenario) -> "Plan":
        """Sends, AgentBuddy edits, fault windows, and each day's people and end."""
        plan = cls()
        for at, campaign, number in send_plan(scenario):
            plan.push(at, SEND, "send", (campaign, number))
        for change in scenario.agentbuddy_changes:
            plan.push(scenario.at(change.day, change.hour), AGENTBUDDY_CHANGE, "agentbuddy_change", change)
        for fault in scenario.faults:
            plan.push(scenario.at(fault.day, fault.hour), FAULT, "fault_start", fault)
            plan.push(scenario.at(fault.day, fault.hour + fault.hours), FAULT, "fault_end", fault)
        for day in range(scenario.days + 1):
            plan.push(scenario.at(day, 0), PEOPLE, "people", day)
            plan.push(scenario.at(day, scenario.rescore_hour), DAY_END, "day_end", day)
        return plan
