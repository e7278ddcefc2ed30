"""Polite HTTP for the crawl and scrape steps: robots.txt, per-host rate limit, retries, size and time caps.

Redirects are followed by hand, one hop at a time, so every hop is checked against robots.txt and the
caller's scope and a loop is cut, which `requests`' own redirect handling cannot do.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

import requests
from bs4.dammit import UnicodeDammit
from protego import Protego

from litft import __version__
from litft.data.acquire.urls import normalize_url

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
DRAIN_BYTES = 64 * 1024  # an unused body up to this size is read, to keep its connection (fetch._release)
ROBOTS_MAX_BYTES = 512_000  # Google's limit: rules past 500 KiB are ignored


class FetchError(Exception):
    """A URL could not be fetched (network, HTTP status, too many retries); recorded, not fatal."""


class Skipped(FetchError):
    """A URL was deliberately not fetched or kept: robots.txt, scope, not HTML, too large."""


class Gone(FetchError):
    """The server says the page is not there (HTTP 404 or 410): a removed page, not a failure worth retrying."""


@dataclass
class FetchSettings:
    """How politely and how patiently to fetch. Delays are settings so tests can make them tiny.

    Args:
        contact: Email or URL put in the User-Agent so site owners can reach you.
        rate_limit: Requests per second per host; 0 means no limit (robots.txt Crawl-delay still applies).
        timeout: Seconds to connect and between received bytes; a whole body may take three times this.
        max_bytes: Larger pages are skipped.
        retries: Extra attempts after a connection error, timeout, 429 or 5xx.
        backoff: Seconds before the first retry, doubled for each further one (Retry-After wins when given).
        max_retry_after: A longer Retry-After is a failure rather than a stall.
        max_redirects: Longer redirect chains are failures.
    """

    contact: str = "set --fetch.contact to your email or URL"
    rate_limit: float = 1.0
    timeout: float = 20.0
    max_bytes: int = 10_000_000
    retries: int = 3
    backoff: float = 1.0
    max_retry_after: float = 300.0
    max_redirects: int = 10

    @property
    def user_agent(self) -> str:
        return f"litft/{__version__} (+{self.contact}; collects text for language-model training)"


@dataclass
class Page:
    """One fetched HTML page, after redirects; `not_modified` when a conditional request got 304 (no `html`)."""

    url: str
    html: str
    fetched_at: str
    redirects: list[str]
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


@dataclass
class Validators:
    """What a server said about a page's version last time, sent back as If-None-Match / If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        return {
            name: value
            for name, value in (("If-None-Match", self.etag), ("If-Modified-Since", self.last_modified))
            if value
        }


@dataclass
class FetchCounts:
    """Requests sent, 304 answers and body bytes read, over a Fetcher's life (what a refresh costs)."""

    requests: int = 0
    not_modified: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, requests: int = 0, not_modified: int = 0, bytes: int = 0) -> None:
        with self.lock:
            self.requests += requests
            self.not_modified += not_modified
            self.bytes += bytes

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "not_modified": self.not_modified, "bytes": self.bytes}


class HostRateLimiter:
    """Spaces request starts per host: at most `rate` per second, or one per robots Crawl-delay, whichever is slower."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next_start: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str, crawl_delay: float = 0.0) -> None:
        interval = max(self._interval, crawl_delay)
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + interval
        if start > now:
            time.sleep(start - now)

    def defer(self, host: str, seconds: float) -> None:
        """Hold every request to `host` for `seconds` (a 429 with Retry-After speaks for the whole host)."""
        with self._lock:
            until = time.monotonic() + seconds
            self._next_start[host] = max(self._next_start.get(host, until), until)


def _root_cause(error: Exception) -> str:
    """The innermost reason of a requests error ("[Errno 111] Connection refused"), not its nested repr."""
    while error.__context__ is not None and not isinstance(error.__context__, KeyboardInterrupt):
        error = error.__context__
    message = str(error)
    return message if message.startswith("[Errno") else f"{type(error).__name__}: {message}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def decode_html(body: bytes, content_type: str = "") -> str:
    """Bytes to text: the header charset if given, else BOM, <meta charset>, detection, UTF-8, cp1252.

    The fallbacks are bs4's UnicodeDammit.
    """
    declared = (
        requests.utils.get_encoding_from_headers({"content-type": content_type}) if "charset" in content_type else None
    )
    dammit = UnicodeDammit(body, known_definite_encodings=[declared] if declared else [], is_html=True)
    return dammit.unicode_markup if dammit.unicode_markup is not None else body.decode("utf-8", errors="replace")


def now_iso() -> str:
    """When a page was fetched, to the microsecond: `scrape --refresh` tells a copy the crawl fetched anew by it,
    and a refresh may well fetch a page again within the second of the first crawl."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class Fetcher:
    """Thread-safe fetching of HTML pages under one set of politeness settings."""

    def __init__(self, settings: FetchSettings | None = None, pool_size: int = 10) -> None:
        self.settings = settings or FetchSettings()
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {"User-Agent": self.settings.user_agent, "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"}
        )
        self.limiter = HostRateLimiter(self.settings.rate_limit)
        self.counts = FetchCounts()
        self._robots: dict[str, Protego] = {}
        self._robots_unreachable: dict[str, str] = {}  # origin -> why its robots.txt could not be read
        self._robots_locks: dict[str, threading.Lock] = {}
        self._robots_guard = threading.Lock()

    # robots.txt -------------------------------------------------------------------------------------

    def robots(self, url: str) -> Protego:
        """The parsed robots.txt of the URL's origin, fetched once.

        RFC 9309: 4xx allows all, 5xx or no answer disallows all.
        """
        origin = _origin(url)
        with self._robots_guard:
            if origin in self._robots:
                return self._robots[origin]
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._robots:
                self._robots[origin] = self._fetch_robots(origin)
            return self._robots[origin]

    def _fetch_robots(self, origin: str) -> Protego:
        try:
            response = self._request(f"{origin}/robots.txt", crawl_delay=0.0, allow_redirects=True)
        except FetchError as error:
            log.warning("robots.txt of %s unreachable (%s); treating the whole site as disallowed.", origin, error)
            self._robots_unreachable[origin] = str(error)
            return Protego.parse("User-agent: *\nDisallow: /\n")
        with response:
            if response.status_code >= 300:
                _release(response)
            if 400 <= response.status_code < 500:
                return Protego.parse("")
            if response.status_code >= 300:
                log.warning(
                    "robots.txt of %s answered HTTP %d; treating the whole site as disallowed.",
                    origin,
                    response.status_code,
                )
                self._robots_unreachable[origin] = f"HTTP {response.status_code}"
                return Protego.parse("User-agent: *\nDisallow: /\n")
            body = response.raw.read(ROBOTS_MAX_BYTES, decode_content=True)
            self.counts.add(bytes=len(body))
        return Protego.parse(body.decode("utf-8", errors="replace"))

    def allowed(self, url: str) -> bool:
        return self.robots(url).can_fetch(url, "litft")

    def _check_allowed(self, url: str) -> None:
        if not self.allowed(url):
            problem = self._robots_unreachable.get(_origin(url))
            raise Skipped(
                f"disallowed by robots.txt, which could not be read: {problem}"
                if problem
                else "disallowed by robots.txt"
            )

    def crawl_delay(self, url: str) -> float:
        return float(self.robots(url).crawl_delay("litft") or 0.0)

    def sitemaps(self, url: str) -> list[str]:
        return list(self.robots(url).sitemaps)

    # requests ---------------------------------------------------------------------------------------

    def _request(
        self, url: str, crawl_delay: float, allow_redirects: bool = False, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """GET with retries on connection errors, timeouts, 429 and 5xx; the response body is left unread."""
        settings = self.settings
        host = urlsplit(url).netloc
        last_problem = "no attempt made"
        for attempt in range(settings.retries + 1):
            self.limiter.wait(host, crawl_delay)
            delay = settings.backoff * 2**attempt
            self.counts.add(requests=1)
            try:
                response = self.session.get(
                    url, timeout=settings.timeout, allow_redirects=allow_redirects, stream=True, headers=headers
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                last_problem = _root_cause(error)
            except requests.RequestException as error:  # malformed URL or answer: trying again will not help
                raise FetchError(f"{type(error).__name__}: {error}") from None
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                last_problem = f"HTTP {response.status_code}"
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                response.close()
                if retry_after is not None:
                    if retry_after > settings.max_retry_after:
                        raise FetchError(f"{last_problem} with Retry-After {retry_after:.0f}s, beyond max_retry_after")
                    if response.status_code == 429:
                        self.limiter.defer(host, retry_after)
                        delay = 0.0
                    else:
                        delay = retry_after
            if attempt < settings.retries and delay > 0:
                time.sleep(delay)
        raise FetchError(f"{last_problem} after {settings.retries + 1} attempts")

    def _read_body(self, response: requests.Response) -> bytes:
        """Read at most max_bytes within a whole-body deadline, so a huge or dripping page cannot stall a worker."""
        limit = self.settings.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Skipped(f"larger than max_bytes ({declared} > {limit} bytes)")
        deadline = time.monotonic() + 3 * self.settings.timeout
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise Skipped(f"larger than max_bytes ({limit} bytes)")
                if time.monotonic() > deadline:
                    raise FetchError(f"body took longer than {3 * self.settings.timeout:.0f}s")
                chunks.append(chunk)
        except requests.RequestException as error:
            raise FetchError(f"reading the body failed: {error}") from None
        finally:
            self.counts.add(bytes=size)
        return b"".join(chunks)

    def get(
        self,
        url: str,
        follow: Callable[[str], bool] = lambda url: True,
        html_only: bool = True,
        validators: Validators | None = None,
    ) -> Page:
        """Fetch one page; each redirect hop must pass robots.txt and `follow` (scope, not yet seen).

        With `validators` the first request is conditional: a 304 answer returns a `not_modified` page at once,
        its body never downloaded. Raises Skipped for what politeness or scope rules out, Gone for a 404 or 410,
        FetchError for other failures.
        """
        chain = [url]
        current = url
        while True:
            self._check_allowed(current)
            conditional = validators.headers() if validators and current == url else None
            response = self._request(current, self.crawl_delay(current), headers=conditional)
            with response:
                if response.status_code == 304 and conditional:
                    self.counts.add(not_modified=1)
                    _release(response)
                    return Page(current, "", now_iso(), chain[:-1], validators.etag, validators.last_modified, True)
                if response.is_redirect or response.status_code >= 400:
                    _release(response)
                if response.is_redirect:
                    target = normalize_url(response.headers.get("Location", ""), base=current)
                    if target is None:
                        raise FetchError(f"redirect to an invalid location {response.headers.get('Location')!r}")
                    if target in chain:
                        raise FetchError(f"redirect loop: {' -> '.join(chain + [target])}")
                    if len(chain) > self.settings.max_redirects:
                        raise FetchError(f"more than {self.settings.max_redirects} redirects")
                    if not follow(target):
                        raise Skipped(f"redirects to {target}, out of scope or already seen")
                    chain.append(target)
                    current = target
                    continue
                if response.status_code in (404, 410):
                    raise Gone(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code}")
                content_type = response.headers.get("Content-Type", "")
                if html_only and content_type and content_type.split(";")[0].strip().lower() not in HTML_TYPES:
                    raise Skipped(f"not HTML ({content_type.split(';')[0]})")
                body = self._read_body(response)
            return Page(
                url=current,
                html=decode_html(body, content_type),
                fetched_at=now_iso(),
                redirects=chain[:-1],
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )

    def get_bytes(self, url: str) -> bytes:
        """Fetch a non-HTML resource such as a sitemap, politely and within the size cap."""
        self._check_allowed(url)
        response = self._request(url, self.crawl_delay(url), allow_redirects=True)
        with response:
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code}")
            return self._read_body(response)


def _release(response: requests.Response) -> None:
    """Read the rest of an answer whose body is not used (a 304, a redirect, an error page) when it is empty or small,
    so its connection goes back to the pool: requests closes the connection of a response left unread, and a
    refresh of mostly 304s would open one connection per page. A long or unsized body is left: closing is cheaper."""
    declared = response.headers.get("Content-Length", "")
    if response.status_code == 304 or (declared.isdigit() and int(declared) <= DRAIN_BYTES):
        with contextlib.suppress(requests.RequestException):
            response.content  # noqa: B018 (reading it is the point)
