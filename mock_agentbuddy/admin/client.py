"""The one Python client of the fake's admin API (`/__admin/`), for tests, the simulator and
the conformance kits: anything that drives a fake AgentBuddy from outside, over HTTP.

Only `requests` and `common`: importing it loads neither Flask nor the fake itself, so a client
process (a replay worker, a kit pointed at a fake elsewhere) pays for none of the app.

    admin = AdminClient("http://127.0.0.1:8800")
    admin.reset(clock=True)
    admin.set_clock(datetime(2026, 3, 1, tzinfo=timezone.utc))   # frozen there
    created = admin.mutate("contact", "create", account_id="ab_account_001")
    arrivals = admin.follow_inbound()                              # read the inbound log as it grows
    ...; new = arrivals.new()

Every call that the fake refuses raises `AdminError` (with the problem+json it answered), except
`record()`, which answers None for a record that is not there.
"""
from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from common.timestamps import format_rfc3339, parse_rfc3339

ENTITIES = ("contact", "office", "agent", "property")
COLLECTIONS = ("contacts", "offices", "agents", "properties")


class AdminError(RuntimeError):
    """The fake refused an admin call: `status` and its problem+json `body` (or text)."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else str(body)[:400]
        super().__init__(f"fake AgentBuddy {method} /__admin/{path} -> {status}: {detail}")
        self.method, self.path, self.status, self.body = method, path, status, body


class AdminClient:
    """The admin API of the fake at `url` (its root, without `/__admin`)."""

    def __init__(self, url: str, *, session: requests.Session | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = session or session_for(self.url)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One admin request; the decoded JSON answer (None for an empty one)."""
        response = self.http.request(method, f"{self.url}/__admin/{path}", timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise AdminError(method, path, response.status_code, _decoded(response))
        return response.json() if response.content else None

    # -- the world -------------------------------------------------------------------------------
    def world(self) -> dict:
        """Accounts with offices and agents, OAuth clients, connections with their webhook secrets, counts."""
        return self.call("GET", "world")

    def export(self) -> dict:
        """Every record, and the `sha256` of the whole world."""
        return self.call("GET", "world/export")

    def record(self, collection: str, record_id: str) -> dict | None:
        """`{"account_id", "record", "events"}` for one raw record of any account; None when absent."""
        try:
            return self.call("GET", f"records/{collection}/{record_id}")
        except AdminError as error:
            if error.status == 404:
                return None
            raise

    def mutate(self, entity: str, op: str, record_id: str | None = None, changes: dict | None = None,
               account_id: str | None = None) -> dict:
        """Create, update or delete one record; `{"event_type", "account_id", "record"}`."""
        body: dict[str, Any] = {"entity": entity, "op": op}
        if record_id is not None:
            body["id"] = record_id
        if changes is not None:
            body["changes"] = changes
        if account_id is not None:
            body["account_id"] = account_id
        return self.call("POST", "mutate", json=body)

    def churn(self, count: int, account_id: str | None = None) -> list[dict]:
        """`count` random seeded changes; what changed (`event_type`, `account_id`, `id`, `updated_at`)."""
        spec: dict[str, Any] = {"count": count}
        if account_id is not None:
            spec["account_id"] = account_id
        return self.call("POST", "mutate", json={"churn": spec})["changes"]

    def reset(self, clock: bool = False) -> dict:
        """Back to the seeded world (and, with `clock`, wall time); tokens, logs and faults forgotten."""
        return self.call("POST", "reset", json={"clock": clock})

    # -- the clock -------------------------------------------------------------------------------
    def clock(self) -> dict:
        """`{"now", "frozen"}`."""
        return self.call("GET", "clock")

    def now(self) -> datetime:
        return parse_rfc3339(self.clock()["now"])

    def set_clock(self, at: datetime, *, freeze: bool | None = True) -> dict:
        """Move the fake's clock to `at` (frozen there by default; `freeze=None` leaves it as it is)."""
        body: dict[str, Any] = {"set": format_rfc3339(at, digits=6)}
        if freeze is not None:
            body["freeze"] = freeze
        return self.call("POST", "clock", json=body)

    def advance(self, seconds: float) -> dict:
        return self.call("POST", "clock", json={"advance_seconds": seconds})

    def freeze(self, frozen: bool = True) -> dict:
        return self.call("POST", "clock", json={"freeze": frozen})

    # -- faults ----------------------------------------------------------------------------------
    def faults(self) -> dict:
        """The active profile and faults (with how often each fired), and the profiles on offer."""
        return self.call("GET", "faults")

    def set_faults(self, faults: list[dict] | None = None, *, profile: str | None = None,
                   seed: int | None = None) -> dict:
        """A named profile, or a list of fault specs (`[]` clears them); `seed` makes firing reproducible."""
        body: dict[str, Any] = {"faults": faults} if faults is not None else {"profile": profile or "none"}
        if seed is not None:
            body["seed"] = seed
        return self.call("POST", "faults", json=body)

    # -- the verdict -----------------------------------------------------------------------------
    def verdict(self) -> dict:
        """The fake's verdict on its client so far: `rules` (pass/fail/skip), `findings` with evidence."""
        return self.call("GET", "verdict")

    # -- the logs --------------------------------------------------------------------------------
    def journal(self, since: int = 0, limit: int | None = None, *, operation_id: str | None = None,
                path: str | None = None) -> dict:
        """`{"entries", "last_seq"}`: requests after `since` (the last `limit` of them)."""
        return self.call("GET", "journal", params=_query(since, limit, operation_id=operation_id, path=path))

    def inbound(self, since: int = 0, limit: int | None = None, *, path: str | None = None) -> dict:
        """`{"entries", "last_seq"}`: webhooks and pushes received after `since` (the last `limit`)."""
        return self.call("GET", "inbound", params=_query(since, limit, path=path))

    def follow_journal(self, **filters: str) -> "LogReader":
        return LogReader(self, "journal", filters)

    def follow_inbound(self, **filters: str) -> "LogReader":
        return LogReader(self, "inbound", filters)


class LogReader:
    """Reads one of the fake's logs forward, a piece at a time, never twice.

    The logs are numbered (`seq`) and bounded; a reader asks only for what came after what it
    has seen, so a replay that looks after every step reads each entry once."""

    def __init__(self, client: AdminClient, log: str, filters: dict[str, str] | None = None) -> None:
        self.client, self.log, self.filters = client, log, dict(filters or {})
        self.seq = 0
        self.seen: list[dict] = []

    def new(self) -> list[dict]:
        """The entries since the last look (and remember them in `seen`)."""
        answer = self.client.call("GET", self.log, params=_query(self.seq, None, **self.filters))
        entries = answer.get("entries", [])
        self.seq = max([self.seq, answer.get("last_seq") or 0] + [e.get("seq") or 0 for e in entries])
        self.seen.extend(entries)
        return entries

    def all(self) -> list[dict]:
        """Every entry read so far, after catching up."""
        self.new()
        return list(self.seen)

    def skip_to_end(self) -> None:
        """Forget what was read and start after the log's current end (e.g. after a reset: the log
        is emptied but its sequence numbers carry on)."""
        self.seq = self.client.call("GET", self.log, params={"limit": 1}).get("last_seq") or 0
        self.seen = []


def _query(since: int, limit: int | None, **filters: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"since": since}
    if limit is not None:
        params["limit"] = limit
    params.update({name: value for name, value in filters.items() if value is not None})
    return params


def _decoded(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def session_for(url: str) -> requests.Session:
    """One keep-alive session for talking to `url`; for a server on loopback no proxy look-ups (requests scans the
    environment for proxies on every call otherwise: ~0.4 ms a request)."""
    session = requests.Session()
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    session.trust_env = not loopback
    return session
