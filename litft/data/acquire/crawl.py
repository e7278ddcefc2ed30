"""Breadth-first crawl of one site: every in-scope HTML page once, politely, resumable after a kill.

Worker threads fetch, parse and cache a page; the coordinating thread owns the frontier, the output list and
the state file, so nothing needs locking but the shared "claimed" set that redirect checks read.
The state file (`<out>.crawl/state.jsonl`) holds one line per finished URL with the links it had: replaying
it rebuilds the frontier, so a resumed crawl fetches nothing twice (failed URLs are retried).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from litft.common.errors import LitftError
from litft.common.io import append_jsonl, atomic_write_json, check_output_file, iter_jsonl, progress
from litft.data.acquire.fetch import Fetcher, FetchError, FetchSettings, Skipped
from litft.data.acquire.links import page_links, parse_sitemap
from litft.data.acquire.page_cache import work_dir_for, write_cached
from litft.data.acquire.urls import Scope, looks_like_html, normalize_url
from litft.data.pages import open_for_append

log = logging.getLogger(__name__)

MAX_SITEMAPS = 50  # sitemap files read per crawl, index files included


@dataclass
class CrawlState:
    """Everything a crawl knows; rebuilt from the state file on resume."""

    scope: Scope
    max_depth: int
    listed: list[str] = field(default_factory=list)
    listed_set: set[str] = field(default_factory=set)
    claimed: set[str] = field(default_factory=set)  # queued, being fetched, fetched, or listed
    frontier: list[tuple[int, int, str]] = field(default_factory=list)  # heap of (depth, order, url)
    seeds_done: bool = False
    start_problem: str | None = None  # why the start URL failed, when it did
    errors: int = 0
    skipped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    order: itertools.count = field(default_factory=itertools.count)  # FIFO among equal depths

    def enqueue(self, url: str, depth: int) -> None:
        if depth > self.max_depth or not self.scope.contains(url) or not looks_like_html(url):
            return
        with self.lock:
            if url in self.claimed:
                return
            self.claimed.add(url)
        heapq.heappush(self.frontier, (depth, next(self.order), url))

    def list_page(self, url: str) -> bool:
        """Add a page to the output list; False when it is already there."""
        if url in self.listed_set:
            return False
        self.listed_set.add(url)
        self.listed.append(url)
        return True

    def claim(self, url: str) -> bool:
        """Called from workers on each redirect hop: follow only to in-scope URLs nobody else has."""
        if not self.scope.contains(url) or not looks_like_html(url):
            return False
        with self.lock:
            if url in self.claimed:
                return False
            self.claimed.add(url)
            return True

    def replay(self, records: list[dict], start: str) -> None:
        """Rebuild the frontier from a state file: finished URLs are claimed, their links queued."""
        pending_links: list[tuple[str, int]] = []
        for record in records:
            if "seeds" in record:
                self.seeds_done = True
                pending_links += [(url, 1) for url in record["seeds"]]
            elif record.get("status") == "ok":
                self.claimed.update([record["url"], record["final"], *record.get("redirects", [])])
                self.claimed.add(record["page"])
                if record["listed"]:
                    self.list_page(record["page"])
                pending_links += [(url, record["depth"] + 1) for url in record["links"]]
            elif record.get("status") == "skipped":
                self.claimed.add(record["url"])
                self.skipped += 1
        self.enqueue(start, 0)
        for url, depth in pending_links:
            self.enqueue(url, depth)


@dataclass
class Fetched:
    """A worker's result: the page as the crawl will list it, its HTML already cached."""

    final_url: str
    identity: str  # the rel=canonical URL when in scope, else the final URL
    redirects: list[str]
    fetched_at: str
    links: list[str]
    noindex: bool


def _fetch_page(fetcher: Fetcher, scope: Scope, claim: Callable[[str], bool], cache_dir: Path, url: str) -> Fetched:
    """Runs in a worker thread: fetch, parse, cache (so the slow disk sync overlaps other fetches)."""
    page = fetcher.get(url, follow=claim)
    found = page_links(page.html, page.url)
    identity = page.url
    if found.canonical and found.canonical != identity and scope.contains(found.canonical):
        identity = found.canonical
    if not found.noindex:
        write_cached(cache_dir, identity, page.html, page.fetched_at)
    links = [] if found.nofollow else [link for link in found.links if scope.contains(link) and looks_like_html(link)]
    return Fetched(page.url, identity, page.redirects, page.fetched_at, links, found.noindex)


class StateLog:
    """The crawl's append-only state file. Each line is written whole at once (a killed process or a full disk
    leaves no half line), but synced to disk at most every `sync_every` seconds, since an fsync per line costs more
    than the fetch (a machine crash loses at most that much, which is then refetched)."""

    def __init__(self, path: Path, sync_every: float = 1.0) -> None:
        self._file = open_for_append(path)  # a kill mid-line leaves a torn tail; it is cut before appending
        self._sync_every = sync_every
        self._last_sync = time.monotonic()

    def append(self, record: dict) -> None:
        append_jsonl(self._file, record, sync=False)
        if time.monotonic() - self._last_sync >= self._sync_every:
            self.sync()

    def sync(self) -> None:
        os.fsync(self._file.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        self.sync()
        self._file.close()


def _sitemap_seeds(fetcher: Fetcher, state: CrawlState, start: str) -> list[str]:
    """In-scope page URLs from the site's sitemaps (those robots.txt names, else /sitemap.xml), indexes followed."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(start))
    to_read = [url for url in fetcher.sitemaps(start) if urlsplit(url).netloc == urlsplit(start).netloc]
    to_read = to_read or [f"{origin}/sitemap.xml"]
    read: set[str] = set()
    seeds: list[str] = []
    while to_read and len(read) < MAX_SITEMAPS:
        sitemap_url = normalize_url(to_read.pop(0))
        if sitemap_url is None or sitemap_url in read:
            continue
        read.add(sitemap_url)
        try:
            sitemap = parse_sitemap(fetcher.get_bytes(sitemap_url))
        except FetchError as error:
            log.info("sitemap %s not read: %s", sitemap_url, error)
            continue
        if sitemap.is_index:
            to_read += [url for url in sitemap.urls if urlsplit(url).netloc == urlsplit(start).netloc]
        else:
            seeds += [url for url in map(normalize_url, sitemap.urls) if url and state.scope.contains(url)]
    return list(dict.fromkeys(seeds))


def crawl(
    url: str,
    out: Path,
    allow: list[str] | None = None,
    deny: list[str] | None = None,
    max_pages: int = 1000,
    max_depth: int = 20,
    concurrency: int = 4,
    sitemaps: bool = True,
    fetch: FetchSettings = FetchSettings(),
    quiet: bool = False,
) -> list[str]:
    """Crawl a site breadth-first from `url` and write the JSON list of in-scope HTML page URLs to `out`.

    Scope is the start URL's host and directory plus `allow` (hosts, URL prefixes, globs or `re:` patterns),
    minus `deny` (globs or `re:` patterns). robots.txt and its Crawl-delay are obeyed and every host is held
    to `fetch.rate_limit` requests per second. State and the HTML cache for `litft scrape` live in
    `<out>.crawl/`; running the same command again resumes without refetching.

    Args:
        url: Start URL, e.g. https://www.example.edu/physics/.
        out: Where to write the list of page URLs.
        allow: More hosts, URL prefixes or patterns to include.
        deny: Glob or `re:` patterns of URLs to exclude.
        max_pages: Stop after listing this many pages.
        max_depth: Follow links at most this many clicks from the start URL (sitemap pages count as depth 1).
        concurrency: Pages fetched at once (across hosts; each host still obeys the rate limit).
        sitemaps: Also seed the crawl from the site's sitemaps.
        fetch: Politeness and patience: rate limit, contact for the User-Agent, timeouts, retries, size cap.
        quiet: No progress bar or summary.
    """
    if max_pages < 1 or max_depth < 0 or concurrency < 1:
        raise LitftError("max_pages and concurrency must be at least 1 and max_depth at least 0; fix the values.")
    out = check_output_file(out, "--out")  # before any fetch: a crawl must not run for an output it cannot write
    work_dir = work_dir_for(out)
    if work_dir.exists() and not work_dir.is_dir():
        raise LitftError(
            f"{work_dir} (where the crawl keeps its state beside --out) is a file; move it or choose another --out."
        )
    scope = Scope(url, allow=list(allow or []), deny=list(deny or []))
    start = scope.start_url
    state_path, cache_dir = work_dir / "state.jsonl", work_dir / "pages"
    work_dir.mkdir(parents=True, exist_ok=True)

    state = CrawlState(scope=scope, max_depth=max_depth)
    records = list(iter_jsonl(state_path, skip_torn_tail=True)) if state_path.exists() else []
    if records and records[0].get("start") != start:
        raise LitftError(
            f"{work_dir} holds a crawl of {records[0].get('start')}, not {start}; "
            "choose another --out or delete that folder."
        )
    state.replay(records, start)

    if fetch.contact == FetchSettings.contact and not quiet:
        print(
            "crawl: no --fetch.contact given; site owners who see this crawler in their logs cannot reach you.",
            file=sys.stderr,
        )
    fetcher = Fetcher(fetch, pool_size=max(10, concurrency))
    bar = progress(quiet=quiet, unit="page", desc="crawl", initial=len(state.listed))
    log_file = StateLog(state_path)
    try:
        if not records:
            log_file.append({"start": start})
        if sitemaps and not state.seeds_done:
            seeds = _sitemap_seeds(fetcher, state, start)
            log_file.append({"seeds": seeds})
            for seed in seeds:
                state.enqueue(seed, 1)
        _run(fetcher, state, log_file, cache_dir, max_pages, concurrency, bar)
    finally:
        log_file.close()
        bar.close()
        if state.listed:  # also on an interrupt: what was found so far; never an empty list over a user error
            atomic_write_json(out, state.listed[:max_pages])
    if not state.listed and state.start_problem:
        raise LitftError(
            f"the start URL {start} could not be crawled ({state.start_problem}); "
            "check it, or start from where it redirects."
        )
    if not quiet:
        print(
            f"crawl: {min(len(state.listed), max_pages)} pages listed in {out} "
            f"({state.errors} errors, {state.skipped} skipped; details in {state_path})",
            file=sys.stderr,
        )
    return state.listed[:max_pages]


def _run(
    fetcher: Fetcher, state: CrawlState, log_file: StateLog, cache_dir: Path, max_pages: int, concurrency: int, bar
) -> None:
    in_flight: dict[Future, tuple[str, int]] = {}
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="litft-crawl")
    try:
        while True:
            while state.frontier and len(in_flight) < concurrency and len(state.listed) + len(in_flight) < max_pages:
                depth, _, url = heapq.heappop(state.frontier)
                future = pool.submit(_fetch_page, fetcher, state.scope, state.claim, cache_dir, url)
                in_flight[future] = (url, depth)
            if not in_flight:
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                url, depth = in_flight.pop(future)
                _record(future, url, depth, state, log_file)
                bar.n = len(state.listed)
                bar.set_postfix(queue=len(state.frontier), errors=state.errors, skipped=state.skipped, refresh=False)
                bar.update(0)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _record(future: Future, url: str, depth: int, state: CrawlState, log_file: StateLog) -> None:
    """Turn one finished fetch into a state line and new frontier entries."""
    try:
        fetched: Fetched = future.result()
    except FetchError as reason:
        if url == state.scope.start_url:
            state.start_problem = str(reason)
        if isinstance(reason, Skipped):
            state.skipped += 1
        else:
            state.errors += 1
            log.info("%s failed: %s", url, reason)
        status = "skipped" if isinstance(reason, Skipped) else "error"
        log_file.append({"url": url, "depth": depth, "status": status, "reason": str(reason)})
        return
    with state.lock:
        state.claimed.add(fetched.identity)
    listed = not fetched.noindex and state.list_page(fetched.identity)
    log_file.append(
        {
            "url": url,
            "depth": depth,
            "status": "ok",
            "final": fetched.final_url,
            "redirects": fetched.redirects,
            "page": fetched.identity,
            "listed": listed,
            "links": fetched.links,
            "fetched_at": fetched.fetched_at,
        }
    )
    for link in fetched.links:
        state.enqueue(link, depth + 1)
