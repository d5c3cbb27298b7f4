"""Wakes idle delivery workers when something is enqueued in this process (they poll otherwise)."""
from __future__ import annotations

import threading


class Doorbell:
    """Wakes idle delivery workers when something is enqueued in this process."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def ring(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        rang = self._event.wait(timeout)
        self._event.clear()
        return rang
