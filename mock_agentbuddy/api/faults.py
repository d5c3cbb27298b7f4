"""Named, seeded fault profiles: what a real AgentBuddy does on a bad day.

Each fault applies to contract operations whose operationId matches one of its globs, fires
with a probability (from a Random seeded by the run's seed, so a run is reproducible), may
fire in bursts (once triggered, the next `burst - 1` matching requests fail too) and may be
limited to `count` firings or to a window of the fake's clock. Waits go through the state's
injectable sleeper, so tests never actually wait.

Kinds: latency (fixed + random jitter), error (500/502/503 with problem+json), rate_limit
(429 storm with Retry-After), reset (socket closed with no response), truncate (Content-Length
larger than the body sent), drip (body streamed in small chunks with pauses), receiver_down
(inbound endpoints answer 503 between two clock times).
"""
from __future__ import annotations

import copy
import fnmatch
import random
import socket
import struct
import threading
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta

from flask import Flask, g, request

from common.timestamps import format_rfc3339, parse_rfc3339

from ..responses import problem
from ..state import current_state

KINDS = ("latency", "error", "rate_limit", "reset", "truncate", "drip", "receiver_down")
INBOUND_OPERATIONS = ["receive*", "push*"]


@dataclass
class Fault:
    kind: str
    operations: list[str] = field(default_factory=lambda: ["*"])
    probability: float = 1.0
    count: int | None = None  # fire at most this many times (None: no limit)
    burst: int = 1  # once triggered, this many consecutive matching requests are hit
    status: int = 503  # error
    retry_after: int = 1  # error 503, rate_limit, receiver_down (computed from the window)
    latency_ms: int = 0  # latency: fixed part
    jitter_ms: int = 0  # latency: plus uniform random 0..jitter
    chunk_bytes: int = 64  # drip
    chunk_delay_ms: int = 50  # drip
    truncate_fraction: float = 0.5  # truncate: share of the body actually sent
    start: str | None = None  # active from this clock time (RFC 3339) ...
    end: str | None = None  # ... until this one
    fired: int = 0
    _burst_left: int = 0

    def public(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


def _profiles(now_iso: str, later_iso: str) -> dict[str, tuple[str, list[dict]]]:
    reads = ["list*", "get*"]
    return {
        "none": ("No faults.", []),
        "flaky": ("Bursts of 500/502/503 on reads and pushes.", [
            {"kind": "error", "status": 503, "probability": 0.08, "burst": 3, "retry_after": 1},
            {"kind": "error", "status": 500, "probability": 0.04},
            {"kind": "error", "status": 502, "probability": 0.03, "operations": reads},
        ]),
        "storm-429": ("429 storms with Retry-After.", [
            {"kind": "rate_limit", "probability": 0.15, "burst": 6, "retry_after": 2},
        ]),
        "resets": ("Dropped connections and truncated bodies on reads.", [
            {"kind": "reset", "probability": 0.08, "operations": reads},
            {"kind": "truncate", "probability": 0.05, "operations": reads},
        ]),
        "slow": ("Latency on everything, slow-drip pages.", [
            {"kind": "latency", "latency_ms": 150, "jitter_ms": 350},
            {"kind": "drip", "probability": 0.2, "operations": ["list*"], "chunk_bytes": 512, "chunk_delay_ms": 20},
        ]),
        "receiver-down": ("Inbound webhook and push endpoints answer 503 for 5 minutes of the fake's clock.", [
            {"kind": "receiver_down", "operations": INBOUND_OPERATIONS, "start": now_iso, "end": later_iso},
        ]),
    }


def profile_names() -> list[str]:
    return sorted(_profiles("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"))


class FaultError(ValueError):
    def __init__(self, message: str, errors: list[dict]) -> None:
        super().__init__(message)
        self.errors = errors


def parse_fault(spec, index: int) -> Fault:
    where = f"faults[{index}]"
    if not isinstance(spec, dict):
        raise FaultError("Each fault must be an object.", [{"field": where, "message": "must be an object"}])
    known = {f.name for f in fields(Fault) if not f.name.startswith("_")} - {"fired"}
    errors = [{"field": f"{where}.{name}", "message": f"unknown field; allowed: {', '.join(sorted(known))}"}
              for name in sorted(set(spec) - known)]
    kind = spec.get("kind")
    if kind not in KINDS:
        errors.append({"field": f"{where}.kind", "message": f"must be one of {', '.join(KINDS)}"})
    ops = spec.get("operations", ["*"])
    if not isinstance(ops, list) or not ops or not all(isinstance(o, str) and o for o in ops):
        errors.append({"field": f"{where}.operations", "message": "must be a non-empty list of operationId globs"})
    checks = {
        "probability": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
        "count": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1),
        "burst": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10_000,
        "status": lambda v: v in (500, 502, 503),
        "retry_after": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 86_400,
        "latency_ms": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 120_000,
        "jitter_ms": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 120_000,
        "chunk_bytes": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1_000_000,
        "chunk_delay_ms": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 60_000,
        "truncate_fraction": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1,
    }
    messages = {"probability": "a number from 0 to 1", "count": "null or an integer >= 1",
                "burst": "an integer from 1 to 10000", "status": "500, 502 or 503",
                "retry_after": "seconds, 0-86400", "latency_ms": "milliseconds, 0-120000",
                "jitter_ms": "milliseconds, 0-120000", "chunk_bytes": "an integer >= 1",
                "chunk_delay_ms": "milliseconds, 0-60000", "truncate_fraction": "a number from 0 to below 1"}
    for name, ok in checks.items():
        if name in spec and not ok(spec[name]):
            errors.append({"field": f"{where}.{name}", "message": f"must be {messages[name]}"})
    for name in ("start", "end"):
        if spec.get(name) is not None:
            try:
                parse_rfc3339(spec[name])
            except ValueError as error:
                errors.append({"field": f"{where}.{name}", "message": str(error)})
    if kind == "receiver_down" and not (spec.get("start") and spec.get("end")):
        errors.append({"field": where, "message": "receiver_down needs start and end (clock times)"})
    if errors:
        raise FaultError("Invalid fault specification.", errors)
    return Fault(**{k: copy.deepcopy(v) for k, v in spec.items()})


class Faults:
    def __init__(self, state) -> None:
        self.state = state
        self._lock = threading.Lock()
        self.startup_profile = state.config.faults
        self.reset()

    # -- configuration ---------------------------------------------------------------------
    def profiles(self) -> dict[str, tuple[str, list[dict]]]:
        now = self.state.clock.now()
        return _profiles(format_rfc3339(now), format_rfc3339(now + timedelta(minutes=5)))

    def reset(self) -> None:
        self.configure({"profile": self.startup_profile or "none"})

    def configure(self, body: dict) -> None:
        if "profile" in body and "faults" in body:
            raise FaultError("Give either a profile or a list of faults.",
                             [{"field": "profile", "message": "not allowed together with faults"}])
        seed = body.get("seed", self.state.config.seed)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise FaultError("seed must be an integer.", [{"field": "seed", "message": "must be an integer"}])
        if "faults" in body:
            specs, name = body["faults"], "custom"
            if not isinstance(specs, list):
                raise FaultError("faults must be a list.", [{"field": "faults", "message": "must be a list"}])
        else:
            name = body.get("profile") or "none"
            profiles = self.profiles()
            if name not in profiles:
                raise FaultError(f"Unknown fault profile '{name}'.",
                                 [{"field": "profile", "message": f"must be one of {', '.join(profiles)}"}])
            specs = profiles[name][1]
        parsed = [parse_fault(spec, index) for index, spec in enumerate(specs)]
        with self._lock:
            self.profile, self.seed, self.faults = name, seed, parsed
            self.rng = random.Random(f"faults:{seed}:{name}")

    def describe(self) -> dict:
        with self._lock:
            return {"profile": self.profile, "seed": self.seed, "faults": [f.public() for f in self.faults],
                    "profiles": {name: description for name, (description, _) in self.profiles().items()}}

    # -- decisions ---------------------------------------------------------------------------
    def pick(self, operation_id: str | None, kinds: tuple[str, ...]) -> list[Fault]:
        """The faults of these kinds that fire for this request (consumes randomness)."""
        if operation_id is None:
            return []
        now = self.state.clock.now()
        hits = []
        with self._lock:
            for fault in self.faults:
                if fault.kind not in kinds or not any(fnmatch.fnmatchcase(operation_id, p) for p in fault.operations):
                    continue
                if fault.start and now < parse_rfc3339(fault.start) or fault.end and now >= parse_rfc3339(fault.end):
                    continue
                if fault.count is not None and fault.fired >= fault.count:
                    continue
                if fault._burst_left > 0:
                    fault._burst_left -= 1
                elif self.rng.random() < fault.probability:
                    fault._burst_left = fault.burst - 1
                else:
                    continue
                fault.fired += 1
                hits.append(fault)
        return hits

    def latency(self, fault: Fault) -> float:
        with self._lock:
            jitter = self.rng.random() * fault.jitter_ms if fault.jitter_ms else 0
        return (fault.latency_ms + jitter) / 1000


def inject_before():
    """before_request: latency, then the first failure that fires (error, 429, reset, receiver down)."""
    if not request.path.startswith("/v1/"):
        return None
    state = current_state()
    for fault in state.faults.pick(g.get("operation_id"), ("latency", "error", "rate_limit", "reset", "receiver_down")):
        _note(fault.kind)
        if fault.kind == "latency":
            state.sleep(state.faults.latency(fault))
            continue
        g.fault_failed = True
        return _failure(state, fault)
    return None


def inject_after(response):
    """after_request: spoil a response that was going to succeed (truncate it, or drip it slowly)."""
    if not request.path.startswith("/v1/") or g.get("fault_failed"):
        return response
    state = current_state()
    for fault in state.faults.pick(g.get("operation_id"), ("truncate", "drip")):
        _note(fault.kind)
        return _truncate(response, fault) if fault.kind == "truncate" else _drip(state, response, fault)
    return response


def init_faults(app: Flask, state) -> None:
    state.faults = Faults(state)
    app.before_request(inject_before)
    app.after_request(inject_after)


def _note(kind: str) -> None:
    """Record the fault on the request, for the journal (and so strict checks stand aside)."""
    g.fault = f"{g.fault},{kind}" if g.get("fault") else kind


def _failure(state, fault: Fault):
    if fault.kind == "reset":
        return _reset_connection()
    if fault.kind == "rate_limit":
        response = problem(429, "rate_limited", "Too many requests",
                           f"Rate limited (fault injection); retry in {fault.retry_after} seconds.")
        response.headers["Retry-After"] = str(fault.retry_after)
        return response
    if fault.kind == "receiver_down":
        remaining = max(1, int((parse_rfc3339(fault.end) - state.clock.now()).total_seconds()))
        response = problem(503, "service_unavailable", "Service unavailable",
                           f"The receiver is down (fault injection) for another {remaining} seconds.")
        response.headers["Retry-After"] = str(remaining)
        return response
    code = "internal_error" if fault.status == 500 else "service_unavailable"
    response = problem(fault.status, code, "Internal error" if fault.status == 500 else "Service unavailable",
                       f"Injected {fault.status} (fault injection); retry with backoff.")
    if fault.status == 503:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response


def _reset_connection():
    """Abort the TCP connection so the client sees it dropped with no response at all."""
    sock = _client_socket(request.environ)
    if sock is None:  # Flask's test client has no socket; say what would have happened
        return problem(503, "service_unavailable", "Connection reset",
                       "Connection reset (fault injection; simulated because there is no socket).")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    return problem(503, "service_unavailable", "Connection reset", "never delivered")


def _client_socket(environ: dict):
    """The connection's socket. WSGI hides it; waitress (common.serving) puts its channel's
    `check_client_disconnected` in the environ, and that bound method's channel owns the socket."""
    check = environ.get("waitress.client_disconnected")
    channel = getattr(check, "__self__", None)
    return getattr(channel, "socket", None)


def _truncate(response, fault: Fault):
    body = response.get_data()
    sent = body[: int(len(body) * fault.truncate_fraction)]
    response.set_data(sent)
    response.headers["Content-Length"] = str(len(body))  # promises more than is sent
    # The server closes the connection itself when the body falls short of Content-Length
    # (waitress logs "application returned too few bytes"); `Connection` is hop-by-hop, not ours.
    return response


def _drip(state, response, fault: Fault):
    body = response.get_data()
    delay = fault.chunk_delay_ms / 1000

    def chunks():
        for start in range(0, len(body), fault.chunk_bytes):
            if start:
                state.sleep(delay)
            yield body[start:start + fault.chunk_bytes]

    response.response = chunks()
    response.headers["Content-Length"] = str(len(body))
    return response
