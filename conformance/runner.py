"""Runs the selected checks one after another and gathers a `Report`.

Each check is isolated: its exchanges are recorded apart, anything it raises ends that check
only (a crash reads as a failure with the last exchange as evidence, since it is almost always
an answer the check could not read), and only a `KitError` — the kit itself cannot go on —
stops the run.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from . import SUITE_NAME, SUITE_VERSION
from .model import FAIL, PASS, SKIP, Check, Fail, KitError, Outcome, Skip
from .probe import Unreachable
from .target import CheckContext, Target

EVIDENCE_KEPT = 4


@dataclass
class Report:
    target: str
    contract: str  # the contract's info.version
    started: datetime
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    suite: str = SUITE_NAME
    version: str = SUITE_VERSION
    hostname: str = field(default_factory=socket.gethostname)

    @property
    def title(self) -> str:
        return f"{self.suite} {self.version}"

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def passed(self) -> bool:
        return self.count(FAIL) == 0

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "version": self.version, "target": self.target, "contract_version": self.contract,
                "started": self.started.isoformat(timespec="seconds"), "seconds": round(self.seconds, 2),
                "summary": {status: self.count(status) for status in (PASS, FAIL, SKIP)},
                "checks": [o.to_json() for o in self.outcomes]}


def run(target: Target, checks: list[Check], on_result: Callable[[Outcome], None] | None = None) -> Report:
    report = Report(target.probe.base_url, target.contract.version, datetime.now(timezone.utc))
    began = time.perf_counter()
    for item in checks:
        outcome = run_one(target, item)
        report.outcomes.append(outcome)
        if on_result is not None:
            on_result(outcome)
    report.seconds = time.perf_counter() - began
    return report


def run_one(target: Target, item: Check) -> Outcome:
    began = time.perf_counter()
    with target.probe.recording() as log:
        try:
            note = item.run(CheckContext(target))
            outcome = Outcome(item, PASS, note or "")
        except Skip as skipped:
            outcome = Outcome(item, SKIP, str(skipped))
        except Fail as failed:
            outcome = Outcome(item, FAIL, str(failed), _evidence(log, failed.exchange))
        except Unreachable as lost:
            outcome = Outcome(item, FAIL, f"no answer: {lost.exchange.error}", _evidence(log, lost.exchange))
        except KitError:
            raise
        except Exception as error:  # an answer the check could not read is the server's failure to show
            outcome = Outcome(item, FAIL, f"the check could not read the server's answers "
                                          f"({type(error).__name__}: {error})", _evidence(log, None))
    outcome.seconds = time.perf_counter() - began
    return outcome


def _evidence(log: list, key) -> list:
    """The exchange that shows the failure first, then the last few before it."""
    recent = [e for e in log[-EVIDENCE_KEPT:] if e is not key]
    return ([key] if key is not None else []) + recent[-(EVIDENCE_KEPT - (key is not None)):]
