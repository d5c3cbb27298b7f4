"""Broadcast's own jobs as a story calls for them, through the integration's public functions:
connecting to AgentBuddy, syncing, the daily re-score, and the access token AgentBuddy revokes."""
from __future__ import annotations

from typing import Callable

from integration import sync as bc_sync
from integration.agentbuddy import connections, tokens
from integration.engagement.pipeline.rescore import rescore_all

from .log import Log
from .stack import Stack


class StoryError(RuntimeError):
    """The story cannot be played on this stack (e.g. no connection to play it through)."""


class BroadcastSide:
    def __init__(self, stack: Stack, log: Log, in_step: Callable[[], None]) -> None:
        self.stack = stack
        self.log = log
        self.in_step = in_step   # the fake's clock brought to ours before Broadcast calls it
        self.last_sync_day = -1

    def connected_account(self) -> str | None:
        """The AgentBuddy account of the stack's connection (None: the story connects itself)."""
        if not self.stack.config.resend_webhook_secret:
            raise StoryError("Broadcast has no Resend webhook secret (RESEND_WEBHOOK_SECRET): the story's "
                             "provider events could not be signed; configure one, then play")
        if not self.stack.connected:
            return None
        connection = connections.get_connection(self.stack.db, self.stack.organization_id)
        if connection is None or connection.status == connections.DISCONNECTED or not connection.account_id:
            raise StoryError("Broadcast is not connected to AgentBuddy: connect it first (Settings), then play")
        return connection.account_id

    def connect(self, account: dict) -> None:
        """Connect headless as the account's first active agent (the fake approves by itself)."""
        stack = self.stack
        agent = next(a for a in account["agents"] if a["is_active"] and not a["deleted_at"])
        connections.connect_headless(stack.db, stack.config, stack.organization_id, agent["email"], clock=stack.clock)
        self.log.add(stack.clock.now(), f"connected Broadcast to AgentBuddy as {agent['email']}")

    def initial_sync(self) -> None:
        stack = self.stack
        summary = bc_sync.sync(stack.db, stack.config, stack.organization_id, full=True, clock=stack.clock)
        self.log.add(stack.clock.now(), f"initial sync: {sync_words(summary)}")

    def sync(self, label: str = "sync", always: bool = True) -> None:
        """A scheduled sync; logged when it changed something (or `always`), and when it failed."""
        stack = self.stack
        self.in_step()
        try:
            summary = bc_sync.sync(stack.db, stack.config, stack.organization_id, clock=stack.clock)
            t = summary.totals
            if always or t.created or t.updated or t.deleted:
                self.log.add(stack.clock.now(), f"{label}: {sync_words(summary)}")
        except Exception as error:  # a failed scheduled sync is part of the story, not the end of it
            self.log.add(stack.clock.now(), f"{label} failed: {type(error).__name__}: {error}")

    def scheduled_sync(self, day: int, agentbuddy_changed: bool) -> bool:
        """At a day's end: a sync whenever AgentBuddy changed, and weekly regardless (tokens, drift)."""
        if not agentbuddy_changed and day - self.last_sync_day < 7:
            return False
        self.sync(always=False)
        self.last_sync_day = day
        return True

    def expire_token(self) -> None:
        """AgentBuddy stops honouring Broadcast's access token (as after an expiry), then a sync runs."""
        stack = self.stack
        self.in_step()
        status = tokens.revoke_access_token(stack.db, stack.config, stack.organization_id)
        self.log.add(stack.clock.now(), f"AgentBuddy invalidated Broadcast's access token (revoke -> {status})")
        self.sync("sync after the token was invalidated")

    def rescore(self) -> None:
        rescore_all(self.stack.db, self.stack.organization_id, self.stack.clock)


def sync_words(summary) -> str:
    t = summary.totals
    return f"{t.created} created, {t.updated} updated, {t.deleted} deleted"
