"""A story played step by step on a stack: Broadcast's campaigns, the people who read them,
AgentBuddy's edits and outages, on a simulated clock through the real integration and the fake.

`Story(scenario, stack).start()`, then `step_day()` until it answers False, then `finish()` for
the result document and `close()`. `replay()` (replay.py) does exactly that on a stack of its
own; a live demo does it on the stack a person is looking at. Time is the stack's clock and the
fake's frozen `/__admin/clock`, moved together, so signatures, token expiry and `updated_at`
stamps all agree. Verdicts come from what the fake AgentBuddy holds, never from what the
integration believes it sent.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from scenarios.people.generator import behaviours_for
from scenarios.people.timeline import Person, SimEvent, send_plan
from scenarios.story import model as m
from scenarios.verdicts.checks import check_all
from scenarios.verdicts.results import build

from . import plan as p
from .agentbuddy import FAULT_WORDS, AgentBuddySide
from .broadcast import BroadcastSide
from .delivery import Background, Stepped
from .log import Line, Log
from .mail import Mail
from .observe import Observer
from .stack import Stack

DayProgress = Callable[[str, int, int], None]
log = logging.getLogger(__name__)


class Story:
    """One story on one stack: `start()`, `step_day()` until False, `finish()`, `close()`."""

    def __init__(self, scenario: m.Scenario, stack: Stack, on_line: Callable[[Line], None] | None = None,
                 deliver: bool = True, *, on_day: DayProgress | None = None) -> None:
        self.scenario, self.stack, self.on_day = scenario, stack, on_day
        self._log = Log(scenario, on_line)
        self.log, self.days = self._log.lines, scenario.days   # the lines so far; the last day
        self.contacts = {c.id: c for c in scenario.all_contacts()}
        self.people = {cid: Person(c, behaviours_for(scenario, c), scenario.at(0), scenario.seed)
                       for cid, c in self.contacts.items()}
        self.agentbuddy = AgentBuddySide(stack.agentbuddy, stack.clock)
        self.broadcast = BroadcastSide(stack, self._log, self.agentbuddy.in_step)
        self.mail = Mail(scenario, stack)
        self.observer = Observer(stack.agentbuddy, self.contacts)
        self.delivery = (Stepped if deliver else Background)(stack, self.move_to, self.agentbuddy.in_step)
        self.plan = p.Plan.of(scenario)
        self.last_send = _last_send_of_each_day(scenario)
        self.ab_ids: dict[str, str] = {}
        self.gaps: list[str] = []
        self.day, self.started, self.finished, self.error = -1, False, False, None
        self.fake_touched = True                          # AgentBuddy changed since Broadcast last synced
        self._release: list[Callable[[], Any]] = []       # what close() puts back

    def now(self) -> datetime:
        return self.stack.clock.now()

    def move_to(self, at: datetime) -> None:
        at = max(at, self.now())
        if self.delivery.calls_any_time:  # the fake's clock first: a service may call it the moment ours moves
            self.agentbuddy.step_to(at)
        self.stack.clock.set(at)

    # -- playing ---------------------------------------------------------------------------------
    def start(self) -> None:
        """The story's people into the account, connected (unless already), synced, campaigns made."""
        with self._failing():
            s, stack = self.scenario, self.stack
            self._release += hold_clocks(stack, self.agentbuddy)
            self.agentbuddy.step_to(s.at(0) - timedelta(hours=1))   # the fake's first, as in move_to
            stack.clock.set(s.at(0) - timedelta(hours=1))
            account = self.agentbuddy.account(self.broadcast.connected_account())
            self.ab_ids = self.agentbuddy.populate(s, account)
            self.observer.start(self.ab_ids)
            self.mail.check_repeat(self.ab_ids)
            if not stack.connected:
                self.broadcast.connect(account)
            self.broadcast.initial_sync()
            self.mail.create_campaigns()
            self.agentbuddy.install_faults(s)
            self.started = True

    def step_day(self) -> bool:
        """Play through the end of the next simulated day; False once the story is over."""
        if self.finished:
            return False
        if not self.started:
            self.start()
        with self._failing():
            while self.plan:
                item = self.plan.pop()
                self.delivery.until(item.at)
                self.move_to(item.at)
                getattr(self, f"_{item.kind}")(item.payload)   # _send, _people, _event, _day_end, ...
                if item.kind == "day_end" and item.payload < self.scenario.days:
                    return True
            self.finished = True
        return False

    def finish(self) -> dict[str, Any]:
        """The expectations checked: the same JSON document `ab-harness replay --json` writes."""
        try:
            while self.step_day():
                pass
        except Exception:
            if self.error is None:
                raise
            # else: recorded; the result says which step failed, and why
        complete = self.error is None
        obs = self.observer.observations(self.mail.emitted, self.mail.sends, self.stack.db if complete else None,
                                         self.stack.organization_id)
        return build(self.scenario, obs, check_all(self.scenario, obs), self.error, self.log, self.gaps)

    def close(self) -> None:
        """Release what the story took: fault windows, frozen clocks, connections to the servers."""
        release, self._release = self._release, []
        for undo in reversed(release):
            try:
                undo()
            except Exception as error:  # a server already gone (the reason the story ended, maybe)
                log.warning("could not release %s: %s", undo, error)
        self.mail.http.close()

    # -- the plan's items ------------------------------------------------------------------------
    def _people(self, day: int) -> None:
        self.plan.people(day, self.people.values(), self.last_send.get(day), self.now())

    def _send(self, payload: tuple[m.Campaign, int]) -> None:
        campaign, number = payload
        audience = {cid: self.ab_ids[cid] for cid, c in self.contacts.items() if campaign.audience.includes(c)}
        delivered, words = self.mail.send(campaign, number, audience, self.now())
        for cid, provider_email_id in delivered:
            for event in self.people[cid].deliver(campaign, provider_email_id, self.now()):
                self.plan.push(event.at, p.EVENT, "event", event)
        self._log.add(self.now(), words)

    def _event(self, event: SimEvent) -> None:
        words = self.mail.event(event, self.contacts[event.contact_id], self.ab_ids[event.contact_id], self.now())
        if words:
            self._log.add(self.now(), words, event.contact_id)
        self.delivery.until(self.now())

    def _agentbuddy_change(self, change: m.AgentBuddyChange) -> None:
        self.fake_touched = True
        self._log.add(self.now(), self.agentbuddy.change(change, self.ab_ids[change.contact]), change.contact)

    def _fault_start(self, fault: m.Fault) -> None:
        if fault.kind == "token_expired":
            self.broadcast.expire_token()
        else:
            self._log.add(self.now(), f"AgentBuddy {FAULT_WORDS[fault.kind]} for {fault.hours:g}h begins")

    def _fault_end(self, fault: m.Fault) -> None:
        if fault.kind != "token_expired":
            self._log.add(self.now(), f"AgentBuddy {FAULT_WORDS[fault.kind]} ends")

    def _day_end(self, day: int) -> None:
        touched = self.fake_touched
        if self.broadcast.scheduled_sync(day, touched):
            self.fake_touched = False
        self.broadcast.rescore()
        self.delivery.until(self.now())
        self.observer.snapshot(day, touched, self.delivery.attempts())
        self.day = day
        if self.on_day is not None:
            self.on_day(self.scenario.name, day, self.scenario.days)

    # -- set-up and failure ----------------------------------------------------------------------
    @contextmanager
    def _failing(self) -> Iterator[None]:
        """The first error ends the story and is kept, as the result reports it; it still raises."""
        try:
            yield
        except Exception as error:
            if self.error is None:
                self.error, self.finished = f"{type(error).__name__}: {error}", True
            raise


def hold_clocks(stack: Stack, agentbuddy: AgentBuddySide) -> list[Callable[[], Any]]:
    """Both clocks stand still while the story moves them; what to call to let them run again."""
    clock, admin = stack.clock, stack.agentbuddy
    release: list[Callable[[], Any]] = []
    if getattr(clock, "frozen", True) is False:
        clock.freeze()
        release.append(lambda: clock.freeze(False))
    if not admin.clock().get("frozen"):
        release.append(lambda: admin.freeze(False))
    release.append(agentbuddy.remove_faults)
    return release


def _last_send_of_each_day(scenario: m.Scenario) -> dict[int, datetime]:
    last: dict[int, datetime] = {}
    for at, _campaign, _number in send_plan(scenario):
        day = int(scenario.day_of(at))
        last[day] = max(at, last.get(day, at))
    return last
