"""Delivery on a simulated clock: Broadcast's outbox delivered at the moments it falls due.

`Stepped` runs Broadcast's own delivery worker and jumps the story's clock to each moment a
message falls due (retries after an outage included), so months of backoff take no wall time.
`Background` is for a stack whose own service delivers: it only waits, briefly, for what is
due by now to leave.
"""
from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta
from typing import Callable

from integration import outbox
from integration.outbox.delivery import DeliveryWorker
from integration.outbox.transports import StoredEndpoints, transport_for

from .stack import Stack

MAX_ROUNDS = 10_000


class DeliveryStuck(RuntimeError):
    """The outbox would not drain: the replay cannot go on."""


class Stepped:
    calls_any_time = False  # AgentBuddy hears from Broadcast only when the story calls

    def __init__(self, stack: Stack, move_to: Callable[[datetime], None], in_step: Callable[[], None]) -> None:
        self.stack = stack
        self.move_to = move_to
        self.in_step = in_step
        endpoints = StoredEndpoints(stack.db, stack.config, stack.clock)
        self.worker = DeliveryWorker(stack.db, stack.clock, transport_for(stack.config.delivery_mode, endpoints),
                                     worker_id="replay")

    def until(self, until: datetime) -> None:
        """Run the delivery worker at every moment something falls due, up to `until`."""
        stack = self.stack
        for _ in range(MAX_ROUNDS):
            due = outbox.next_due(stack.db, stack.organization_id)
            if due is None or due > until:
                return
            self.move_to(max(due, stack.clock.now()))
            self.in_step()
            if not self.worker.drain():
                # claimed nothing although due: a lease is held; step past it
                self.move_to(stack.clock.now() + timedelta(seconds=30))
        raise DeliveryStuck(f"the outbox did not drain ({MAX_ROUNDS:,} delivery rounds)")

    def attempts(self) -> tuple | None:
        """The worker's counters: unchanged since the last look means nothing was sent."""
        return dataclasses.astuple(self.worker.stats)


class Background:
    """The stack's own service delivers; the story moves the clock to each moment something falls
    due, as `Stepped` does, and waits for the service to send it (up to `patience` seconds at a
    time: a stopped service holds the story up no longer than that, and the backlog waits)."""

    calls_any_time = True   # the service calls AgentBuddy whenever something is due by Broadcast's clock

    def __init__(self, stack: Stack, move_to: Callable[[datetime], None], in_step: Callable[[], None],
                 patience: float = 30.0) -> None:
        self.stack = stack
        self.move_to = move_to
        self.in_step = in_step
        self.patience = patience

    def until(self, until: datetime) -> None:
        stack = self.stack
        for _ in range(MAX_ROUNDS):
            if not self._settled():
                return
            due = outbox.next_due(stack.db, stack.organization_id)
            if due is None or due > until:
                return
            self.move_to(max(due, stack.clock.now()))
            self.in_step()
        raise DeliveryStuck(f"the outbox did not drain ({MAX_ROUNDS:,} delivery rounds)")

    def _settled(self) -> bool:
        """Wait until nothing due by now is left and nothing is being delivered."""
        stack = self.stack
        if stack.doorbell is not None:
            stack.doorbell.ring()
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline:
            due = outbox.next_due(stack.db, stack.organization_id)
            busy = outbox.counts(stack.db, stack.organization_id)["delivering"]
            if not busy and (due is None or due > stack.clock.now()):
                return True
            time.sleep(0.02)
        return False

    def attempts(self) -> tuple | None:
        return None  # unknown: somebody else sends
