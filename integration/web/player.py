"""What Broadcast's pages need from a story player: the "Play a story" control's side of the deal.

The simulator lives above Broadcast (`scenarios` imports `integration`, never the reverse), so
the pages cannot start a story themselves. They talk to a `StoryPlayer` that the composer
(`harness.serve`) hands to `create_app(player=...)`; without one, `NoPlayer` answers and the
control says how to get one (`ab-harness serve`). Everything crossing this line is plain data
(`StoryInfo`, `PlayerStatus`), so the pages and their JSON endpoints need nothing else of the
player, and a test can put any object with these methods in its place.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

# Player states; "finished" has expectations, "stopped" and "failed" may not.
IDLE, STARTING, PLAYING, PAUSED, FINISHED, STOPPED, FAILED = (
    "idle", "starting", "playing", "paused", "finished", "stopped", "failed")
RUNNING_STATES = (STARTING, PLAYING, PAUSED)

FULL_SPEED = None  # `speed=None`: no pause between simulated days (tests, impatient people)
MIN_SPEED, MAX_SPEED = 0.05, 50.0  # simulated days per second a person may choose


class PlayerError(Exception):
    """A request the player refuses, in words a person can act on.

    `code` is a stable problem code (`unknown_story`, `invalid_scenario`, `busy`, `not_connected`,
    `not_playing`, `unavailable`); `errors` the precise messages (for an invalid scenario file,
    the loader's `path (line, column): what is wrong`); `status` the HTTP status to answer with.
    """

    def __init__(self, code: str, detail: str, *, errors: list[str] | None = None, status: int = 409) -> None:
        super().__init__(detail)
        self.code, self.detail, self.errors, self.status = code, detail, list(errors or []), status


@dataclass(frozen=True)
class StoryInfo:
    name: str
    description: str
    days: int


@dataclass(frozen=True)
class StoryPerson:
    """One of the playing story's people, and where to watch them on both sides."""

    name: str
    agentbuddy_id: str | None


@dataclass(frozen=True)
class PlayerStatus:
    state: str = IDLE
    story: str | None = None
    description: str = ""
    day: int = -1                            # the last simulated day played (-1: none yet)
    days: int = 0
    simulated_now: str | None = None       # RFC 3339, the story's clock
    speed: float | None = 1.0               # simulated days per second; None: full speed
    lines: tuple[dict, ...] = ()            # the story's latest log lines, oldest first ({day, at, what})
    people: tuple[StoryPerson, ...] = ()
    expectations: tuple[dict, ...] = ()     # the replay's outcomes ({label, passed, checks}) once finished
    passed: bool | None = None
    error: str | None = None
    available: bool = True                  # False: no player here (see NoPlayer)
    queue: tuple[str, ...] = field(default=())  # stories waiting to play after this one
    stopping: bool = False                  # stop was asked for; the day in hand is being finished
    backlog: tuple[dict, ...] = ()          # Broadcast's outbox as the story went ({day, at, waiting}), oldest first

    @property
    def backlog_peak(self) -> dict | None:
        """The moment the most messages waited for AgentBuddy (None when none ever waited)."""
        peak = max(self.backlog, key=lambda s: s["waiting"], default=None)
        return peak if peak and peak["waiting"] else None

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def headline(self) -> str:
        """One line for the status bar: the day and what the story is doing."""
        if not self.available:
            return "No story player here: start both apps with `ab-harness serve` to play stories."
        if self.state == IDLE:
            return "No story playing."
        where = f"{self.story}, day {max(self.day, 0)} of {self.days}"
        if self.state == FAILED:
            return f"{where}: stopped by an error — {self.error}"
        if self.state == STOPPED:
            return f"{where}: stopped."
        if self.state == FINISHED:
            verdict = "every expectation met" if self.passed else "an expectation failed"
            return f"{self.story} finished after {self.days} days: {verdict}."
        if self.state == STARTING:
            return f"{self.story}: putting its people into AgentBuddy and syncing them…"
        line = self.lines[-1] if self.lines else {"day": self.day, "what": "waiting for the first day"}
        doing = " (stopping after this day)" if self.stopping else " (paused)" if self.state == PAUSED else ""
        return f"day {max(line.get('day', self.day), 0)}{doing}: {line.get('what', '')}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["running"] = self.running
        data["headline"] = self.headline
        return data


@runtime_checkable
class StoryPlayer(Protocol):
    """Plays one story at a time on the running apps; every method returns the new status."""

    def stories(self) -> list[StoryInfo]:
        """The library a person can choose from."""
        ...

    def play(self, name: str | None = None, *, text: str | None = None, source: str = "upload",
             speed: float | None = 1.0) -> PlayerStatus:
        """Start the library story `name`, or the scenario file `text` (raises PlayerError)."""
        ...

    def pause(self) -> PlayerStatus: ...

    def resume(self) -> PlayerStatus: ...

    def step(self) -> PlayerStatus:
        """Play one simulated day, then pause."""
        ...

    def stop(self) -> PlayerStatus:
        """Stop after the day being played (the data stays consistent)."""
        ...

    def set_speed(self, speed: float | None) -> PlayerStatus: ...

    def status(self) -> PlayerStatus: ...


class NoPlayer:
    """The player of an app started without one: lists nothing, refuses to play, says why."""

    REASON = ("Stories play only on the apps `ab-harness serve` starts (it brings the simulator); "
              "this Broadcast app was started without it.")

    def stories(self) -> list[StoryInfo]:
        return []

    def status(self) -> PlayerStatus:
        return PlayerStatus(available=False)

    def _refuse(self, *_args: Any, **_kwargs: Any) -> PlayerStatus:
        raise PlayerError("unavailable", self.REASON, status=503)

    play = pause = resume = step = stop = set_speed = _refuse
