"""What a check is, what it concludes, and the evidence it keeps.

A check is a plain function `def name(ctx) -> str | None` wrapped by `@check(...)` into a
`Check` carrying its stable id, its area and the clause it enforces. It passes by returning
(optionally a one-line note), fails by raising `Fail` (with the exchange that shows it), and is
skipped by raising `Skip` (with the reason) — never passed when it could not look.
`KitError` is different: the kit itself cannot go on (unreachable server, refused credentials,
a failing state hook) and the whole run stops with one sentence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

PASS, FAIL, SKIP = "pass", "fail", "skip"
BODY_EXCERPT = 2000


class KitError(Exception):
    """The run cannot go on; the message is the one sentence the user sees."""


class Skip(Exception):
    """The check could not look (missing credentials, capability or data): say why."""


class Fail(Exception):
    """The server broke the clause; `exchange` is the request and answer that show it."""

    def __init__(self, message: str, exchange: "Exchange | None" = None) -> None:
        super().__init__(message)
        self.exchange = exchange


@dataclass
class Exchange:
    """One HTTP request and what came back, with credentials masked, for the report."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    error: str | None = None  # the transport error when nothing came back

    def to_json(self) -> dict[str, Any]:
        return {"request": {"method": self.method, "url": self.url, "headers": self.request_headers,
                            "body": self.request_body},
                "response": None if self.status is None else
                {"status": self.status, "headers": self.response_headers, "body": self.response_body},
                "error": self.error}

    def summary(self) -> str:
        answer = self.error or f"{self.status} {self.response_headers.get('Content-Type', '')}".strip()
        return f"{self.method} {self.url} -> {answer}"


@dataclass(frozen=True)
class Check:
    id: str  # stable: `area.subject.property`, what CI history and defect tests key on
    area: str
    title: str
    clause: str  # the contract path, DECISIONS item or RFC section it enforces
    run: Callable[[Any], str | None]
    last: bool = False  # runs after every other check (it spends the token's rate-limit quota)


@dataclass
class Outcome:
    check: Check
    status: str  # pass | fail | skip
    detail: str = ""
    evidence: list[Exchange] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.check.id, "area": self.check.area, "title": self.check.title,
                "clause": self.check.clause, "status": self.status, "detail": self.detail,
                "seconds": round(self.seconds, 3), "evidence": [e.to_json() for e in self.evidence]}


def check(id: str, title: str, clause: str, last: bool = False):  # noqa: A002 - the check's id
    """Declare a check; its area is the first part of its id."""

    def wrap(function: Callable[[Any], str | None]) -> Check:
        return Check(id=id, area=id.split(".", 1)[0], title=title, clause=clause, run=function, last=last)

    return wrap


def excerpt(text: str | bytes | None) -> str | None:
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text if len(text) <= BODY_EXCERPT else text[:BODY_EXCERPT] + f"… ({len(text)} characters)"
