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

from datetime import datetime, timedelta
from typing import Any, Callable

from integration import sync as bc_sync
from integration.agentbuddy import connections, tokens
from integration.engagement.pipeline.rescore import rescore_all
from scenarios.people.generator import behaviours_for
from scenarios.people.timeline import Person, SimEvent, send_plan
from scenarios.story import model as m
from scenarios.verdicts.checks import check_all
from scenarios.verdicts.results import build

from . import plan as p
from .agentbuddy import FAULT_WORDS, AgentBuddySide
from .delivery import Background, Stepped
from .log import Line, Log
from .mail import Mail
from .observe import Observer
from .stack import Stack

DayProgress = Callable[[str, int, int], None]


class StoryError(RuntimeError):
    """The story cannot be played on this stack (e.g. no connection to play it through)."""


class Story:
    def __init__(self, scenario: m.Scenario, stack: Stack, on_line: Callable[[Line], None] | None = None,
                 deliver: bool = True, *, on_day: DayProgress | None = None) -> None:
        self.scenario, self.stack, self.on_day = scenario, stack, on_day
        self._log = Log(scenario, on_line)
        self.contacts = {c.id: c for c in scenario.all_contacts()}
        self.people = {cid: Person(c, behaviours_for(scenario, c), scenario.at(0), scenario.seed)
                       for cid, c in self.contacts.items()}
        self.agentbuddy = AgentBuddySide(stack.agentbuddy, stack.clock)
        self.mail = Mail(scenario, stack)
        self.observer = Observer(stack.agentbuddy, self.contacts)
        self.delivery = (Stepped if deliver else Background)(stack, self.move_to, self.agentbuddy.in_step)
        self.plan = p.Plan.of(scenario)
        self.last_send = _last_send_of_each_day(scenario)
        self.ab_ids: dict[str, str] = {}
        self.gaps: list[str] = []
        self.day, self.started, self.finished, self.error = -1, False, False, None
        self.fake_touched, self.last_sync_day = True, -1   # AgentBuddy changed since Broadcast last synced
        self._release: list[Callable[[], Any]] = []       # what close() puts back
        self.handlers = {"send": self._send, "agentbuddy_change": self._agentbuddy_change, "people": self._people,
                         "fault_start": self._fault_start, "fault_end": self._fault_end, "event": self._event,
                         "day_end": self._day_end}

    # -- what a watcher reads ------------------------------------------------------------------
    @property
    def log(self) -> list[Line]:
        return self._log.lines

    @property
    def days(self) -> int:
        return self.scenario.days

    def now(self) -> datetime:
        return self.stack.clock.now()

    def move_to(self, at: datetime) -> None:
        self.stack.clock.set(max(at, self.now()))

    # -- playing ---------------------------------------------------------------------------------
    def start(self) -> None:
        """The story's people into the account, connected (unless already), synced, campaigns made."""
        with self._failing():
            s, stack = self.scenario, self.stack
            self._hold_clocks()
            stack.clock.set(s.at(0) - timedelta(hours=1))
            self.agentbuddy.in_step()
            account = self.agentbuddy.account(self._connected_account())
            self.ab_ids = self.agentbuddy.populate(s, account)
            self.observer.start(self.ab_ids)
            if not stack.connected:
                agent = next(a for a in account["agents"] if a["is_active"] and not a["deleted_at"])
                connections.connect_headless(stack.db, stack.config, stack.organization_id, agent["email"],
                                             clock=stack.clock)
                self._log.add(self.now(), f"connected Broadcast to AgentBuddy as {agent['email']}")
            summary = bc_sync.sync(stack.db, stack.config, stack.organization_id, full=True, clock=stack.clock)
            self._log.add(self.now(), f"initial sync: {_sync_words(summary)}")
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
                self.handlers[item.kind](item.payload)
                if item.kind == "day_end" and item.payload < self.scenario.days:
                    return True
            self.finished = True
        return False

    def finish(self) -> dict[str, Any]:
        """The expectations checked: the same JSON document `ab-harness replay --json` writes."""
        while self.error is None and self.step_day():
            pass
        complete = self.error is None
        obs = self.observer.observations(self.mail.emitted, self.mail.sends, self.stack.db if complete else None,
                                         self.stack.organization_id)
        return build(self.scenario, obs, check_all(self.scenario, obs), self.error, self.log, self.gaps)

    def close(self) -> None:
        """Release what the story took: fault windows, frozen clocks, connections to the servers."""
        release, self._release = self._release, []
        for undo in reversed(release):
            undo()
        self.mail.http.close()

    # -- the plan's items ------------------------------------------------------------------------
    def _people(self, day: int) -> None:
        """Plan each person's clicks, unsubscribes and complaints of `day`, after the day's sends."""
        last_send = self.last_send.get(day)
        if last_send is not None and last_send > self.now():
            self.plan.push(last_send + timedelta(seconds=1), p.PEOPLE, "people", day)
            return
        for person in self.people.values():
            for event in person.actions_on(day):
                self.plan.push(max(event.at, self.now()), p.EVENT, "event", event)

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
        if fault.kind != "token_expired":
            self._log.add(self.now(), f"AgentBuddy {FAULT_WORDS[fault.kind]} for {fault.hours:g}h begins")
            return
        # AgentBuddy stops honouring Broadcast's access token (as after an expiry), then a sync runs
        self.agentbuddy.in_step()
        status = tokens.revoke_access_token(self.stack.db, self.stack.config, self.stack.organization_id)
        self._log.add(self.now(), f"AgentBuddy invalidated Broadcast's access token (revoke -> {status})")
        self._sync("sync after the token was invalidated")

    def _fault_end(self, fault: m.Fault) -> None:
        if fault.kind != "token_expired":
            self._log.add(self.now(), f"AgentBuddy {FAULT_WORDS[fault.kind]} ends")

    def _day_end(self, day: int) -> None:
        # Scheduled sync: whenever AgentBuddy changed, and weekly regardless (tokens, drift).
        touched = self.fake_touched
        if touched or day - self.last_sync_day >= 7:
            self._sync(always=False)
            self.last_sync_day, self.fake_touched = day, False
        rescore_all(self.stack.db, self.stack.organization_id, self.stack.clock)
        self.delivery.until(self.now())
        self.observer.snapshot(day, touched, self.delivery.attempts())
        self.day = day
        if self.on_day is not None:
            self.on_day(self.scenario.name, day, self.scenario.days)

    def _sync(self, label: str = "sync", always: bool = True) -> None:
        self.agentbuddy.in_step()
        try:
            summary = bc_sync.sync(self.stack.db, self.stack.config, self.stack.organization_id, clock=self.stack.clock)
            t = summary.totals
            if always or t.created or t.updated or t.deleted:
                self._log.add(self.now(), f"{label}: {_sync_words(summary)}")
        except Exception as error:  # a failed scheduled sync is part of the story, not the end of it
            self._log.add(self.now(), f"{label} failed: {type(error).__name__}: {error}")

    # -- set-up and failure ----------------------------------------------------------------------
    def _connected_account(self) -> str | None:
        if not self.stack.connected:
            return None
        connection = connections.get_connection(self.stack.db, self.stack.organization_id)
        if connection is None or connection.status == connections.DISCONNECTED or not connection.account_id:
            raise StoryError("Broadcast is not connected to AgentBuddy: connect it first (Settings), then play")
        return connection.account_id

    def _hold_clocks(self) -> None:
        """Both clocks stand still while the story moves them; close() lets them run again."""
        clock, admin = self.stack.clock, self.stack.agentbuddy
        if getattr(clock, "frozen", True) is False:
            clock.freeze()
            self._release.append(lambda: clock.freeze(False))
        if not admin.clock().get("frozen"):
            self._release.append(lambda: admin.freeze(False))
        self._release.append(self.agentbuddy.remove_faults)

    def _failing(self):
        return _Failing(self)


class _Failing:
    """Records the first error (as the result reports it) and ends the story; the error goes on."""

    def __init__(self, story: Story) -> None:
        self.story = story

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _traceback) -> bool:
        if error is not None and isinstance(error, Exception) and self.story.error is None:
            self.story.error = f"{type(error).__name__}: {error}"
            self.story.finished = True
        return False


def _last_send_of_each_day(scenario: m.Scenario) -> dict[int, datetime]:
    last: dict[int, datetime] = {}
    for at, _campaign, _number in send_plan(scenario):
        day = int(scenario.day_of(at))
        last[day] = max(at, last.get(day, at))
    return last


def _sync_words(summary) -> str:
    t = summary.totals
    return f"{t.created} created, {t.updated} updated, {t.deleted} deleted"
