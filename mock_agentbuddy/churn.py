"""`--churn RATE`: random seeded changes applied in the background, RATE per minute, so a
running fake behaves like a CRM that agents are using while Broadcast syncs."""
from __future__ import annotations

import logging
import threading

from .mutations import MutationError, churn

log = logging.getLogger("mock_agentbuddy.churn")


class ChurnRunner:
    def __init__(self, state, per_minute: float) -> None:
        self.state = state
        self.interval = 60.0 / per_minute
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mock-churn", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                churn(self.state, 1)
            except MutationError as error:  # e.g. nothing left to delete; try again next tick
                log.info("churn skipped: %s", error.detail)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
