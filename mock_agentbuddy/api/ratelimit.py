"""Per-token request quotas (per client IP when no Authorization header), on the fake's clock.

Every /v1 response carries the IETF draft headers the contract documents:
`RateLimit-Policy: "default";q=600;w=60` and `RateLimit: "default";r=<remaining>;t=<seconds>`;
over quota, a 429 `rate_limited` problem adds `Retry-After`.
"""
from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import deque
from dataclasses import dataclass

from flask import Flask, g, request

from common.timestamps import to_us

from ..responses import problem
from ..state import current_state

UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
POLICY = "default"


@dataclass(frozen=True)
class Quota:
    limit: int
    window: int  # seconds

    @classmethod
    def parse(cls, text: str) -> "Quota":
        match = re.fullmatch(r"\s*(\d+)\s*/\s*([a-z]+)\s*", text or "")
        if not match or match.group(2) not in UNITS or int(match.group(1)) < 1:
            raise ValueError(f"rate limit must look like 600/min or 10/s, not {text!r}")
        return cls(int(match.group(1)), UNITS[match.group(2)])


class RateLimiter:
    def __init__(self, quota: Quota, clock, sliding: bool = False) -> None:
        self.quota, self.clock, self.sliding = quota, clock, sliding
        self._lock = threading.Lock()
        self._fixed: dict[str, tuple[int, int]] = {}  # key -> (window index, count)
        self._log: dict[str, deque[float]] = {}  # key -> request times (sliding)

    def reset(self) -> None:
        with self._lock:
            self._fixed.clear()
            self._log.clear()

    def hit(self, key: str) -> tuple[bool, int, int]:
        """Count one request: (allowed, remaining, seconds until the quota frees up)."""
        now = to_us(self.clock.now()) / 1_000_000
        with self._lock:
            return self._hit_sliding(key, now) if self.sliding else self._hit_fixed(key, now)

    def _hit_fixed(self, key: str, now: float) -> tuple[bool, int, int]:
        window = int(now // self.quota.window)
        index, count = self._fixed.get(key, (window, 0))
        if index != window:
            count = 0
        reset = max(1, math.ceil((window + 1) * self.quota.window - now))
        if count >= self.quota.limit:
            self._fixed[key] = (window, count)
            return False, 0, reset
        self._fixed[key] = (window, count + 1)
        return True, self.quota.limit - count - 1, reset

    def _hit_sliding(self, key: str, now: float) -> tuple[bool, int, int]:
        times = self._log.setdefault(key, deque())
        while times and times[0] <= now - self.quota.window:
            times.popleft()
        allowed = len(times) < self.quota.limit
        if allowed:
            times.append(now)
        reset = max(1, math.ceil(times[0] + self.quota.window - now)) if times else self.quota.window
        return allowed, max(0, self.quota.limit - len(times)), reset


def client_key() -> str:
    authorization = request.headers.get("Authorization")
    if authorization:
        return "token:" + hashlib.sha256(authorization.encode()).hexdigest()[:24]
    return "ip:" + (request.remote_addr or "unknown")


def count():
    """before_request: count the request against its key's quota; 429 when it is spent."""
    # A request without the contract's required headers is malformed: it gets its 400 and is
    # not counted, so a client (or fuzzer) learns what is wrong with it, not that it was late.
    if not request.path.startswith("/v1/") or g.get("missing_headers"):
        return None
    limiter: RateLimiter = current_state().ratelimiter
    allowed, remaining, reset = limiter.hit(client_key())
    g.ratelimit = (remaining, reset)
    if allowed:
        return None
    quota = limiter.quota
    response = problem(429, "rate_limited", "Too many requests",
                       f"{quota.limit} requests per {quota.window} seconds exceeded; retry in {reset} seconds.")
    response.headers["Retry-After"] = str(reset)
    return response


def headers(response):
    """after_request: the RateLimit headers on every /v1 response."""
    if request.path.startswith("/v1/"):
        quota = current_state().ratelimiter.quota
        remaining, reset = g.get("ratelimit", (quota.limit, quota.window))
        response.headers["RateLimit-Policy"] = f'"{POLICY}";q={quota.limit};w={quota.window}'
        response.headers["RateLimit"] = f'"{POLICY}";r={remaining};t={reset}'
    return response


def init_ratelimit(app: Flask, state) -> None:
    quota = Quota.parse(state.config.rate_limit)
    state.ratelimiter = RateLimiter(quota, state.clock, sliding=state.config.rate_limit_window == "sliding")
    app.before_request(count)
    app.after_request(headers)
