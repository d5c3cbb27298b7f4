"""Stories on the stack `ab-harness serve` runs: the simulator's `Story` over the live apps.

The player (`harness.player`) paces stories; this module is where they meet the running stack:
Broadcast's database, config, organization and the AdjustableClock its app and background
service share, Broadcast's URL (Resend's webhooks go to its real endpoint), and the fake
AgentBuddy through its admin API (its clock is set there, so the simulated date moves both
sides). While a story plays, Broadcast's background service is held: the story syncs,
re-scores and delivers at the moments its days call for, as `ab-harness replay` does, so what a
person watches ends where the replay ends.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from common.clock import AdjustableClock
from integration import outbox
from integration.agentbuddy import connections
from integration.config import IntegrationConfig
from integration.storage import Database, in_lists
from integration.web.player import StoryPerson
from mock_agentbuddy.admin.client import AdminClient
from scenarios.engine import Stack, Story
from scenarios.story.model import Scenario


@dataclass
class LiveBackend:
    db: Database
    config: IntegrationConfig
    clock: AdjustableClock
    agentbuddy_url: str
    service: object | None = None   # integration.web.service.Service; held while a story plays
    broadcast_url: str = ""         # set once Broadcast is served (its port is known only then)

    @property
    def organization_id(self) -> str:
        return self.config.default_organization_id

    def connected(self) -> bool:
        connection = connections.get_connection(self.db, self.organization_id)
        return connection is not None and connection.status == connections.ACTIVE

    def create(self, scenario: Scenario, on_line: Callable[[dict], None]) -> "HeldStory":
        # No HTTP retries inside a call: the story's clock, not a sleeping client, decides when
        # delivery tries again (a 503's Retry-After is five simulated minutes, not five real ones).
        stack = Stack(db=self.db, config=self.config.replace(http_max_retries=0), organization_id=self.organization_id, clock=self.clock,
                      broadcast_url=self.broadcast_url, agentbuddy=AdminClient(self.agentbuddy_url), connected=True)
        if self.service is not None:
            self.service.hold()
        try:
            return HeldStory(Story(scenario, stack, on_line=on_line, deliver=True), self.service)
        except BaseException:
            if self.service is not None:
                self.service.release()
            raise

    def people(self, story: "HeldStory", scenario: Scenario) -> list[StoryPerson]:
        """The story's people and their AgentBuddy ids (Broadcast's contact ids too), once synced."""
        known = story.agentbuddy_ids()
        missing = [c.email for c in scenario.all_contacts() if c.id not in known and c.email]
        by_email = self._ids_by_email(missing) if missing else {}
        return [StoryPerson(c.name, known.get(c.id) or by_email.get(c.email)) for c in scenario.all_contacts()]

    def backlog(self) -> int:
        health = outbox.counts(self.db, self.organization_id)
        return health["queued"] + health["retrying"] + health["delivering"]

    def _ids_by_email(self, emails: list[str]) -> dict[str, str]:
        """The newest synced contact for each email (a story played twice adds its people twice)."""
        found: dict[str, str] = {}
        with self.db.transaction(readonly=True) as tx:
            for marks, chunk in in_lists(emails):
                for row in tx.fetchall(f"SELECT id, email FROM contacts WHERE organization_id = ? AND email IN ({marks})"
                                       " AND deleted_at IS NULL ORDER BY synced_at, id", (self.organization_id, *chunk)):
                    found[row["email"]] = row["id"]
        return found


class HeldStory:
    """A story that releases Broadcast's background service when it closes."""

    def __init__(self, story: Story, service) -> None:
        self.story = story
        self.service = service

    @property
    def day(self) -> int:
        return self.story.day

    @property
    def days(self) -> int:
        return self.story.days

    def start(self) -> None:
        self.story.start()

    def step_day(self) -> bool:
        return self.story.step_day()

    def now(self) -> datetime:
        return self.story.now()

    def finish(self) -> dict:
        return self.story.finish()

    def agentbuddy_ids(self) -> dict[str, str]:
        """Scenario contact id -> AgentBuddy id, where the story tells (else the backend looks them up)."""
        ids = getattr(self.story, "agentbuddy_ids", None) or getattr(self.story, "ab_ids", None)
        return dict(ids() if callable(ids) else ids or {})

    def close(self) -> None:
        try:
            self.story.close()
        finally:
            if self.service is not None:
                self.service.release()
