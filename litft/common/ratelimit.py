"""Client-side limits shared by all worker threads: requests and tokens per minute, and budget caps.

Providers enforce per-minute quotas (OpenAI, Groq) and answer 429 when a client goes over; staying
under them on our side avoids paying for the wasted round trips. Budget caps stop a run before it
spends more than the user allowed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


class BudgetExhausted(Exception):
    """No new request may be sent: a request or token cap (e.g. --llm.max_requests) is reached."""


@dataclass
class _Grant:
    started: float
    tokens: int


class RateLimiter:
    """A sliding one-minute window over requests and tokens, plus a shared pause after a 429.

    `acquire` blocks until a request of `estimated_tokens` fits in both limits; `settle` replaces the
    estimate by the tokens the response really used. A limit of None means unlimited. A pause is never longer
    than `max_pause`, so a server asking for a day (Retry-After: 100000) cannot stall a run that long.
    """

    def __init__(
        self,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_pause: float | None = None,
    ):
        self.requests_per_minute = requests_per_minute
        self.max_pause = max_pause
        self.tokens_per_minute = tokens_per_minute
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._grants: deque[_Grant] = deque()
        self._paused_until = 0.0

    def _drop_expired(self, now: float) -> None:
        while self._grants and now - self._grants[0].started >= WINDOW_SECONDS:
            self._grants.popleft()

    def _wait_seconds(self, now: float, estimated_tokens: int) -> float:
        """How long until a request of `estimated_tokens` fits; 0 when it fits now."""
        wait = max(0.0, self._paused_until - now)
        if self.requests_per_minute is not None and len(self._grants) >= self.requests_per_minute:
            oldest = self._grants[len(self._grants) - self.requests_per_minute]
            wait = max(wait, oldest.started + WINDOW_SECONDS - now)
        if self.tokens_per_minute is not None:
            # A request larger than the whole per-minute quota can still go alone in an empty window.
            needed = min(estimated_tokens, self.tokens_per_minute)
            used = sum(grant.tokens for grant in self._grants)
            for grant in self._grants:  # oldest first: free tokens until the request fits
                if used + needed <= self.tokens_per_minute:
                    break
                used -= grant.tokens
                wait = max(wait, grant.started + WINDOW_SECONDS - now)
        return wait

    def acquire(self, estimated_tokens: int) -> _Grant:
        while True:
            with self._lock:
                now = self._clock()
                self._drop_expired(now)
                wait = self._wait_seconds(now, estimated_tokens)
                if wait <= 0:
                    grant = _Grant(now, estimated_tokens)
                    self._grants.append(grant)
                    return grant
            self._sleep(wait)

    def settle(self, grant: _Grant, actual_tokens: int) -> None:
        with self._lock:
            grant.tokens = actual_tokens

    def pause(self, seconds: float) -> float:
        """Hold every thread back for `seconds` (the server said so with Retry-After), at most `max_pause`.

        Returns the pause granted, so the caller can tell the user when it was cut short.
        """
        granted = seconds if self.max_pause is None else min(seconds, self.max_pause)
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + granted)
        return granted


class Budget:
    """Caps on network requests and tokens for one run; `reserve` refuses a request that could pass them.

    A request is counted when sent. For tokens, the prompt is estimated and the whole response allowance
    (`max_response_tokens`) is assumed, so the real total stays under the cap; `settle` then books the
    tokens the server reported.
    """

    def __init__(self, max_requests: int | None = None, max_tokens: int | None = None, flag_prefix: str = "--llm."):
        self.flag_prefix = flag_prefix  # how the caps are named in messages (the judge's are --judge.*)
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self.requests = 0
        self.tokens = 0
        self._reserved_tokens = 0

    def reserve(self, estimated_tokens: int) -> None:
        with self._lock:
            if self.max_requests is not None and self.requests >= self.max_requests:
                raise BudgetExhausted(
                    f"the cap of {self.max_requests} requests ({self.flag_prefix}max_requests) is reached"
                )
            if self.max_tokens is not None and self.tokens + self._reserved_tokens + estimated_tokens > self.max_tokens:
                raise BudgetExhausted(f"the cap of {self.max_tokens} tokens ({self.flag_prefix}max_tokens) is reached")
            self.requests += 1
            self._reserved_tokens += estimated_tokens

    def settle(self, estimated_tokens: int, actual_tokens: int) -> None:
        with self._lock:
            self._reserved_tokens -= estimated_tokens
            self.tokens += actual_tokens
