"""The fetcher on its own: size cap while streaming, Retry-After forms, decoding, the per-host limiter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from litft.data.acquire import fetch as fetch_module
from litft.data.acquire.fetch import (
    Fetcher,
    FetchError,
    FetchSettings,
    HostRateLimiter,
    Skipped,
    decode_html,
    retry_after_seconds,
)

FAST = dict(rate_limit=0, timeout=1.0, retries=2, backoff=0.01)
ROBOTS = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")


def test_size_cap_holds_without_content_length(server_factory):
    body = b"<html><body>" + b"x" * 3_000_000 + b"</body></html>"
    server = server_factory(
        {
            "/robots.txt": ROBOTS,
            "/big": (200, {"Content-Type": "text/html", "Connection": "close"}, body),
            "/small": (200, {"Content-Type": "text/html", "Connection": "close"}, b"<p>small</p>"),
        }
    )
    fetcher = Fetcher(FetchSettings(max_bytes=1_000_000, **FAST))
    with pytest.raises(Skipped, match="max_bytes"):
        fetcher.get(server.url("/big"))
    assert fetcher.get(server.url("/small")).html == "<p>small</p>"


def test_retry_after_too_long_fails_at_once(server_factory):
    server = server_factory({"/robots.txt": ROBOTS, "/busy": (503, {"Retry-After": "3600"}, b"")})
    fetcher = Fetcher(FetchSettings(max_retry_after=10, **FAST))
    with pytest.raises(FetchError, match="beyond max_retry_after"):
        fetcher.get(server.url("/busy"))
    assert server.paths().count("/busy") == 1


def test_persistent_5xx_gives_up_after_retries(server_factory):
    server = server_factory({"/robots.txt": ROBOTS, "/down": (502, {}, b"")})
    with pytest.raises(FetchError, match="HTTP 502 after 3 attempts"):
        Fetcher(FetchSettings(**{**FAST, "backoff": 0.1})).get(server.url("/down"))
    times = [entry.time for entry in server.log if entry.path == "/down"]
    assert len(times) == 3 and times[1] - times[0] >= 0.09 and times[2] - times[1] >= 0.19  # backoff doubles


def test_http_404_is_an_error_not_retried(server_factory):
    server = server_factory({"/robots.txt": ROBOTS})
    with pytest.raises(FetchError, match="HTTP 404"):
        Fetcher(FetchSettings(**FAST)).get(server.url("/missing"))
    assert server.paths().count("/missing") == 1


def test_retry_after_forms():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(later) <= 30
    earlier = format_datetime(datetime.now(timezone.utc) - timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(earlier) == 0.0


def test_decode_html_prefers_header_then_meta_then_detection():
    text = "<html><body><p>Gr\u00fc\u00dfe aus K\u00f6ln, \u201cso\u201d.</p></body></html>"
    assert decode_html(text.encode("cp1252"), "text/html; charset=windows-1252") == text
    assert decode_html(("<meta charset='windows-1252'>" + text).encode("cp1252"), "text/html").endswith(text)
    assert decode_html(text.encode("utf-8"), "text/html") == text


def test_user_agent_names_litft_and_contact():
    agent = FetchSettings(contact="crawler@uni.example").user_agent
    assert agent.startswith("litft/") and "crawler@uni.example" in agent


class FakeClock:
    """Stands in for the `time` module inside the limiter: sleeping advances the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_host_rate_limiter_spaces_starts_per_host(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(fetch_module, "time", clock)
    limiter = HostRateLimiter(rate=20.0)
    starts = []
    for _ in range(4):
        limiter.wait("a.org")
        starts.append(clock.now)
    assert starts == pytest.approx([1000.0, 1000.05, 1000.1, 1000.15])
    limiter.wait("b.org")  # another host is not held back by a.org
    assert clock.now == pytest.approx(1000.15)
    limiter.wait("a.org", crawl_delay=0.5)  # a robots Crawl-delay slower than the rate wins
    limiter.wait("a.org", crawl_delay=0.5)
    assert clock.now == pytest.approx(1000.7)
    limiter.defer("b.org", 0.2)  # a 429's Retry-After holds the whole host
    before = clock.now
    limiter.wait("b.org")
    assert clock.now - before == pytest.approx(0.2)


def test_broken_compressed_body_is_a_fetch_error(server_factory):
    server = server_factory(
        {
            "/robots.txt": ROBOTS,
            "/gz": (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, b"not gzip at all"),
        }
    )
    with pytest.raises(FetchError, match="reading the body failed"):
        Fetcher(FetchSettings(**FAST)).get(server.url("/gz"))
