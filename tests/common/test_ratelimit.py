"""Client-side limits with a fake clock: no test sleeps."""

from __future__ import annotations

import pytest

from litft.common.ratelimit import Budget, BudgetExhausted, RateLimiter


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_requests_per_minute_waits_for_the_oldest_to_leave_the_window():
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=3, clock=clock, sleep=clock.sleep)
    for at in (0.0, 10.0, 20.0):
        clock.now = at
        limiter.acquire(1)
    clock.now = 30.0
    limiter.acquire(1)
    assert clock.sleeps == [30.0] and clock.now == 60.0  # the request of t=0 leaves at t=60


def test_tokens_per_minute_uses_settled_usage():
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=1000, clock=clock, sleep=clock.sleep)
    grant = limiter.acquire(900)
    limiter.settle(grant, 100)  # the response was smaller than estimated
    clock.now = 5.0
    limiter.acquire(800)
    assert clock.sleeps == []
    clock.now = 6.0
    limiter.acquire(500)  # 100 + 800 in the window: 500 fits only once both have left (t=65)
    assert clock.sleeps == [59.0]
    limiter.acquire(5000)  # larger than the whole quota: goes alone once the window is empty
    assert clock.now == 125.0


def test_pause_holds_every_caller_back():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.pause(2.5)
    limiter.acquire(1)
    assert clock.sleeps == [2.5]


def test_budget_caps_requests_and_tokens():
    budget = Budget(max_requests=2)
    budget.reserve(10)
    budget.reserve(10)
    with pytest.raises(BudgetExhausted, match="2 requests"):
        budget.reserve(10)
    budget = Budget(max_tokens=100)
    budget.reserve(60)
    with pytest.raises(BudgetExhausted, match="100 tokens"):
        budget.reserve(60)  # 60 reserved + 60 could pass the cap
    budget.settle(60, 30)
    budget.reserve(60)
    assert budget.tokens == 30 and budget.requests == 2


def test_a_pause_is_never_longer_than_max_pause():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, max_pause=60.0)
    assert limiter.pause(100000.0) == 60.0  # a server asking for more than a day
    assert limiter.pause(0.5) == 0.5
    limiter.acquire(1)
    assert clock.sleeps == [60.0]
