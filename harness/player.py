"""The story player behind Broadcast's "Play a story" control and `ab-harness serve --play`.

It plays one scenario at a time on the running apps, in a thread of its own, a simulated day at
a time: between two days it waits for its turn (paused, a step asked for, the chosen pace) and
hears stop. A day is never cut short, so a stopped story leaves both sides as a finished day
leaves them (Broadcast's rows written, what was due delivered), and the next story starts clean
on the same stack. The story itself — putting people into AgentBuddy, sending, reading,
re-scoring, delivering — is the simulator's (`Backend.create` makes one); the player only paces
it and keeps what a page shows (`integration.web.player.PlayerStatus`).

Pacing uses the wall clock on purpose: a person watches at "one simulated day a second". The
simulated time itself is the story's clock, shared by both apps.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Protocol

from integration.web.player import (
    FAILED, FINISHED, IDLE, MAX_SPEED, MIN_SPEED, PAUSED, PLAYING, RUNNING_STATES, STARTING, STOPPED, PlayerError,
    PlayerStatus, StoryInfo, StoryPerson)
from scenarios.story.loader import ScenarioError, library_paths, load, loads
from scenarios.story.model import Scenario

log = logging.getLogger(__name__)
LINES_KEPT = 200
BACKLOG_KEPT = 2000  # samples: one per story line and per day; a year-long story fits


class PlayableStory(Protocol):
    """What the player needs of a story (`scenarios.engine.Story` is one)."""

    day: int
    days: int

    def start(self) -> None: ...
    def step_day(self) -> bool: ...
    def now(self) -> datetime: ...
    def finish(self) -> dict: ...
    def close(self) -> None: ...


class Backend(Protocol):
    """Where stories play: makes them on the live stack, knows the connection and the people."""

    def connected(self) -> bool: ...
    def create(self, scenario: Scenario, on_line: Callable[[dict], None]) -> PlayableStory: ...
    def people(self, story: PlayableStory, scenario: Scenario) -> list[StoryPerson]: ...
    def backlog(self) -> int:
        """Messages Broadcast still owes AgentBuddy (queued, retrying, being delivered)."""
        ...


NOT_CONNECTED = ("Connect AgentBuddy first: a story puts its people into the connected AgentBuddy account and "
                 "plays their email through the connection. On Broadcast's settings page click “Connect "
                 "AgentBuddy”, sign in at AgentBuddy and allow access, then play the story.")


@dataclass
class _Playing:
    """What the page shows of the story in hand (guarded by the player's lock)."""

    scenario: Scenario
    state: str = STARTING
    day: int = -1
    now: str | None = None
    people: tuple[StoryPerson, ...] = ()
    result: dict | None = None
    error: str | None = None


class ScenarioPlayer:
    """Kept whole: its methods share one lock and condition, and each is a few lines over them."""

    def __init__(self, backend: Backend, *, library: Callable[[], list[Path]] = library_paths) -> None:
        self._backend = backend
        self._library = library
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._playing: _Playing | None = None
        self._queue: list[Scenario] = []
        self._lines: deque[dict] = deque(maxlen=LINES_KEPT)
        self._backlog: deque[dict] = deque(maxlen=BACKLOG_KEPT)
        self._speed: float | None = 1.0
        self._paused = False
        self._steps = 0
        self._stop = False
        self._stories: list[StoryInfo] | None = None
        self._line_listeners: list[Callable[[dict], None]] = []
        self._finish_listeners: list[Callable[[str, dict], None]] = []

    def listen(self, *, on_line: Callable[[dict], None] | None = None,
               on_finish: Callable[[str, dict], None] | None = None) -> None:
        """Hear every story line and every finished story's result (the command line echoes them)."""
        if on_line is not None:
            self._line_listeners.append(on_line)
        if on_finish is not None:
            self._finish_listeners.append(on_finish)

    # -- the library ----------------------------------------------------------------------------
    def stories(self) -> list[StoryInfo]:
        if self._stories is None:
            found = []
            for path in self._library():
                try:
                    scenario = load(path)
                except ScenarioError:
                    log.warning("library scenario %s does not load; not offered", path.name)
                    continue
                found.append(StoryInfo(scenario.name, " ".join(scenario.description.split()), scenario.days))
            self._stories = found
        return list(self._stories)

    def scenario(self, name: str | None = None, *, text: str | None = None, source: str = "upload") -> Scenario:
        """The library story `name` or the scenario file `text`, checked as the CLI checks it."""
        if text is not None:
            try:
                return loads(text, source=source)
            except ScenarioError as error:
                raise PlayerError("invalid_scenario", f"{source} is not a valid scenario: {len(error.messages)} "
                                  f"problem{'s' if len(error.messages) != 1 else ''}", errors=error.messages,
                                  status=422) from None
        by_name = {path.stem: path for path in self._library()}
        if not name or name not in by_name:
            raise PlayerError("unknown_story", f"There is no story named {name!r} in the library; "
                              f"choose one of {', '.join(sorted(by_name))}.", status=404)
        return load(by_name[name])

    # -- commands -------------------------------------------------------------------------------
    def play(self, name: str | None = None, *, text: str | None = None, source: str = "upload",
             speed: float | None = 1.0) -> PlayerStatus:
        return self.play_all([self.scenario(name, text=text, source=source)], speed=speed)

    def play_all(self, scenarios: list[Scenario], *, speed: float | None = 1.0) -> PlayerStatus:
        """Play `scenarios` one after the other (the command line's `--play a --play b`)."""
        if not scenarios:
            raise PlayerError("invalid_request", "Nothing to play: name at least one story.", status=400)
        _check_speed(speed)
        if not self._backend.connected():
            raise PlayerError("not_connected", NOT_CONNECTED)
        with self._cond:
            if self._busy():
                raise PlayerError("busy", f"{self._playing.scenario.name} is still playing; stop it (or let it "
                                  "finish) before starting another story.")
            self._queue = list(scenarios[1:])
            self._playing = _Playing(scenarios[0])
            self._lines.clear()
            self._backlog.clear()
            self._speed, self._paused, self._steps, self._stop = speed, False, 0, False
            self._thread = threading.Thread(target=self._run, name="story-player", daemon=True)
            self._thread.start()
            return self._status()

    def pause(self) -> PlayerStatus:
        with self._cond:
            self._require_running("pause")
            self._paused, self._steps = True, 0
            self._cond.notify_all()
            return self._status()

    def resume(self) -> PlayerStatus:
        with self._cond:
            self._require_running("resume")
            self._paused, self._steps = False, 0
            self._cond.notify_all()
            return self._status()

    def step(self) -> PlayerStatus:
        """One more simulated day, then paused (pausing first if it was playing on)."""
        with self._cond:
            self._require_running("step")
            if self._paused:
                self._steps += 1
            else:
                self._paused, self._steps = True, 1
            self._cond.notify_all()
            return self._status()

    def stop(self) -> PlayerStatus:
        with self._cond:
            self._require_running("stop")
            self._stop = True
            self._queue.clear()
            self._cond.notify_all()
            return self._status()

    def set_speed(self, speed: float | None) -> PlayerStatus:
        _check_speed(speed)
        with self._cond:
            self._speed = speed
            self._cond.notify_all()
            return self._status()

    def status(self) -> PlayerStatus:
        with self._cond:
            return self._status()

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop whatever plays and wait for its day to end (the stack is going away)."""
        with self._cond:
            self._stop = True
            self._queue.clear()
            self._cond.notify_all()
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> PlayerStatus:
        """Until the stories in hand are over (tests and the command line; a page never waits)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()

    # -- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                playing = self._playing
            self._play(playing)
            with self._cond:
                if self._stop or not self._queue or playing.state != FINISHED:
                    return
                self._playing = _Playing(self._queue.pop(0))
                self._lines.clear()
                self._backlog.clear()

    def _play(self, playing: _Playing) -> None:
        story = None
        try:
            story = self._backend.create(playing.scenario, self._on_line)
            story.start()
            people = tuple(self._backend.people(story, playing.scenario))
            with self._cond:
                playing.people, playing.now, playing.day = people, _iso(story.now()), story.day
                playing.state = PAUSED if self._paused else PLAYING
            while self._wait_for_turn(playing):
                started = time.monotonic()
                more = story.step_day()
                self._sample(story.day, _iso(story.now()))
                with self._cond:
                    playing.day, playing.now = story.day, _iso(story.now())
                    if self._steps:
                        self._steps -= 1
                    if not playing.people or any(p.agentbuddy_id is None for p in playing.people):
                        playing.people = tuple(self._backend.people(story, playing.scenario))
                if not more:
                    result = story.finish()
                    with self._cond:
                        playing.result, playing.state = result, FINISHED
                    for listener in self._finish_listeners:
                        listener(playing.scenario.name, result)
                    return
                self._pace(started)
            with self._cond:
                playing.state = STOPPED
        except Exception as exc:  # the story's failure is shown on the page, and logged with its trace
            log.exception("story %s failed", playing.scenario.name)
            with self._cond:
                playing.state, playing.error = FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            if story is not None:
                try:
                    story.close()
                except Exception:
                    log.exception("closing story %s failed", playing.scenario.name)
            with self._cond:
                self._cond.notify_all()

    def _wait_for_turn(self, playing: _Playing) -> bool:
        """Between two days: False when stopped; waits while paused and no step is asked for."""
        with self._cond:
            while not self._stop and self._paused and not self._steps:
                playing.state = PAUSED
                self._cond.wait()
            if self._stop:
                return False
            playing.state = PLAYING
            return True

    def _pace(self, started: float) -> None:
        """Wait out the rest of this day's share of wall time at the chosen speed."""
        with self._cond:
            while not self._stop and not self._paused and self._speed is not None:
                remaining = started + 1.0 / self._speed - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def _on_line(self, line: dict) -> None:
        with self._cond:
            line = _told(dict(line), self._playing.scenario if self._playing else None)
            self._lines.append(line)
        self._sample(line.get("day"), line.get("at"))
        for listener in self._line_listeners:
            listener(dict(line))

    def _sample(self, day: int | None, at: str | None) -> None:
        """Broadcast's outbox at this moment of the story: an outage's backlog, and its draining."""
        try:
            waiting = self._backend.backlog()
        except Exception:  # a sample is decoration: never the reason a story stops
            log.exception("reading the outbox backlog failed")
            return
        with self._cond:
            self._backlog.append({"day": day, "at": at, "waiting": waiting})

    # -- helpers (lock held) ----------------------------------------------------------------------
    def _busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _require_running(self, what: str) -> None:
        if not self._busy():
            raise PlayerError("not_playing", f"No story is playing, so there is nothing to {what}; "
                              "choose a story and click Play.")

    def _status(self) -> PlayerStatus:
        playing = self._playing
        if playing is None:
            return PlayerStatus(speed=self._speed)
        state = playing.state
        if state in RUNNING_STATES and not self._busy():
            state = STOPPED  # the thread ended without saying so (it never does, but never show a ghost)
        result = playing.result or {}
        return PlayerStatus(
            state=state, story=playing.scenario.name, description=" ".join(playing.scenario.description.split()),
            day=playing.day, days=playing.scenario.days, simulated_now=playing.now, speed=self._speed,
            lines=tuple(self._lines)[-20:], people=playing.people,
            expectations=tuple(_outcome(o) for o in result.get("expectations", ())),
            passed=result.get("passed") if playing.result is not None else None,
            error=playing.error or result.get("error"), queue=tuple(s.name for s in self._queue),
            stopping=self._stop and state in RUNNING_STATES, backlog=tuple(self._backlog))


def _told(line: dict, scenario: Scenario | None) -> dict:
    """A line as a person reads it: a clicked link by its label when the story gives one
    ("Maria Lopez clicked “What's Your Home Worth?”"), the URL kept in `url`."""
    what = str(line.get("what") or "")
    if scenario is None or " clicked " not in what:
        return line
    clicked = what.rsplit(" clicked ", 1)[1].strip()
    for campaign in scenario.campaigns:
        for link in campaign.links:
            if link.label and clicked.startswith(link.url.split("{", 1)[0]) and \
                    (("{" in link.url) or clicked == link.url):
                return {**line, "what": f"{what.rsplit(' clicked ', 1)[0]} clicked “{link.label}”", "url": clicked}
    return line


def _outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    """An expectation as the replay command prints it: label, verdict, and what differed."""
    return {"label": outcome.get("label"), "contact": outcome.get("contact"), "day": outcome.get("day"),
            "passed": bool(outcome.get("passed")),
            "checks": [{"check": c.get("check"), "expected": c.get("expected"), "actual": c.get("actual"),
                        "passed": bool(c.get("passed"))} for c in outcome.get("checks", ())]}


def _check_speed(speed: float | None) -> None:
    if speed is not None and not MIN_SPEED <= speed <= MAX_SPEED:
        raise PlayerError("invalid_request", f"speed {speed:g} is outside {MIN_SPEED:g}–{MAX_SPEED:g} simulated "
                          "days per second (or full speed)", status=400)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at is not None else None


__all__ = ["Backend", "FAILED", "FINISHED", "IDLE", "PlayableStory", "ScenarioPlayer", "STOPPED"]
