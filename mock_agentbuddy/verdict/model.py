"""What a verdict is made of: rules, the findings that break them, and the records they rest on.

A rule is a plain function `def name(records) -> list[Finding] | None` wrapped by `@rule(...)`
with its stable id (`family.subject.property`), what a good client does, the clause of the
contract, DECISIONS or RFC it comes from, and a severity: `error` (the client breaks the
contract or a security rule; a real AgentBuddy will refuse it or be hurt by it) or `warning`
(it works today, but wastes the partner's capacity or breaks on a stricter server). The function
answers None when the client's traffic gave it nothing to judge (the rule is "not exercised"),
[] when the client kept the rule, and findings when it did not. A finding carries the entries of
the fake's logs that show it, so a developer can find the very request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from common.timestamps import parse_rfc3339

ERROR, WARNING = "error", "warning"
EVIDENCE_KEPT = 5  # entries kept per finding; `count` says how many there were


@dataclass(frozen=True)
class Records:
    """What the fake saw of its client, oldest first."""

    requests: list[dict[str, Any]]  # the journal's entries for requests the client made
    notifications: list[dict[str, Any]]  # the journal's entries for notifications sent to the client
    inbound: list[dict[str, Any]]  # the inbound log: every webhook and push, accepted or not
    quota: tuple[int, int]  # the published rate limit: (requests, per seconds)


@dataclass
class Finding:
    message: str  # what the client did, in one line
    evidence: list[dict[str, Any]] = field(default_factory=list)
    count: int = 1  # how many times it did it


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    title: str  # what a good client does
    clause: str
    severity: str
    judge: Callable[[Records], list[Finding] | None]


def rule(id: str, title: str, clause: str, severity: str = ERROR):  # noqa: A002 - the rule's id
    def wrap(function: Callable[[Records], list[Finding] | None]) -> Rule:
        return Rule(id, id.split(".", 1)[0], title, clause, severity, function)

    return wrap


def evidence(entry: dict[str, Any], log: str = "journal", note: str | None = None) -> dict[str, Any]:
    """One log entry as evidence: enough to find the request (seq, time, method, URL, status)."""
    query = entry.get("query")
    shown = {"log": log, "seq": entry.get("seq"), "time": entry.get("time"), "method": entry.get("method"),
             "request": entry.get("path", "") + (f"?{query}" if query else ""), "status": entry.get("status")}
    if note:
        shown["note"] = note
    return shown


def finding(message: str, entries: Iterable[dict[str, Any]], log: str = "journal",
            note: Callable[[dict[str, Any]], str | None] = lambda _e: None) -> Finding:
    """A finding over several entries: the first few as evidence, all of them counted."""
    entries = list(entries)
    return Finding(message, [evidence(e, log, note(e)) for e in entries[:EVIDENCE_KEPT]], len(entries))


def at(entry: dict[str, Any]) -> datetime:
    """When the fake's clock saw the entry."""
    return parse_rfc3339(entry["time"])


def densest(entries: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    """The longest run of entries (in time order) that all fall within `seconds` of the first."""
    best, start = (0, 0), 0
    for end in range(len(entries)):
        while (at(entries[end]) - at(entries[start])).total_seconds() >= seconds:
            start += 1
        if end - start + 1 > best[1] - best[0]:
            best = (start, end + 1)
    return entries[best[0]:best[1]]


def times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"
