"""Breadth-first crawl of one site: every in-scope HTML page once, politely, resumable after a kill.

Worker threads fetch, parse and cache a page; the coordinating thread owns the frontier, the output list and
the state file, so nothing needs locking but the shared "claimed" set that redirect checks read.
The state file (`<out>.crawl/state.jsonl`) holds one line per finished URL with the links it had: replaying
it rebuilds the frontier, so a resumed crawl fetches nothing twice (failed URLs are retried).

`--refresh` starts a new generation of the same file (a `{"refresh": n}` line): the site is crawled again from
the start URL, but a page an earlier generation fetched is asked for with If-None-Match / If-Modified-Since from the
ETag / Last-Modified it came with; a 304 downloads nothing and the cached copy (its links, its `fetched_at`) stands.
A known page the server cannot serve now (timeouts, 5xx) also keeps its cached copy; one it answers 404 or 410 for,
or that no page links to any more, is removed: it is missing from the new URL list, and `summary.json` beside the
state names the pages added and removed and what the crawl cost (requests, 304s, bytes). A generation ends with a
`{"done": ...}` line; until then the same command resumes it.
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
from litft.common.io import append_jsonl, atomic_write_json, iter_jsonl, progress
from litft.common.outputs import claim_output_file, record_output_file
from litft.data.acquire.fetch import Fetcher, FetchError, FetchSettings, Gone, Page, Skipped, Validators
from litft.data.acquire.links import page_links, parse_sitemap
from litft.data.acquire.page_cache import read_cached, work_dir_for, write_cached
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
    gone: int = 0
    known: dict[str, dict] = field(default_factory=dict)  # url -> its last "ok" line of an earlier generation
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
            elif record.get("status") in ("skipped", "gone"):
                self.claimed.add(record["url"])
                self.skipped += record["status"] == "skipped"
                self.gone += record["status"] == "gone"
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
    page: Page
    kept: str = ""  # why the cached copy stands: "not modified", or the reason the page could not be fetched now


def _fetch_page(
    fetcher: Fetcher, scope: Scope, claim: Callable[[str], bool], cache_dir: Path, url: str, known: dict | None
) -> Fetched:
    """Runs in a worker thread: fetch, parse, cache (so the slow disk sync overlaps other fetches).

    A page an earlier generation fetched (`known`, its state line) whose copy is cached is asked for conditionally;
    when it is not modified, or cannot be fetched now, the cached copy stands in."""
    cached = read_cached(cache_dir, known["page"]) if known else None
    validators = Validators(known.get("etag"), known.get("last_modified")) if known and cached else None
    try:
        page = fetcher.get(url, follow=claim, validators=validators)
    except (Gone, Skipped):
        raise
    except FetchError as error:
        if cached is None:
            raise
        page = Page(url, "", cached[1], [], known.get("etag"), known.get("last_modified"), not_modified=True)
        kept = f"unreachable now ({error})"
    else:
        kept = "not modified" if page.not_modified else ""
    if page.not_modified:
        page.html, page.fetched_at = cached
    found = page_links(page.html, page.url)
    identity = known["page"] if page.not_modified else page.url
    if not page.not_modified and found.canonical and found.canonical != identity and scope.contains(found.canonical):
        identity = found.canonical
    if not found.noindex and not page.not_modified:
        write_cached(cache_dir, identity, page.html, page.fetched_at)
    links = [] if found.nofollow else [link for link in found.links if scope.contains(link) and looks_like_html(link)]
    return Fetched(page.url, identity, page.redirects, page.fetched_at, links, found.noindex, page, kept)


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


NO_CONTACT = "crawl: no --fetch.contact given; site owners who see this crawler in their logs cannot reach you."


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
    refresh: bool = False,
    quiet: bool = False,
    overwrite: bool = False,
) -> list[str]:
    """Crawl a site breadth-first from `url` and write the JSON list of in-scope HTML page URLs to `out`.

    Scope is the start URL's host and directory plus `allow` (hosts, URL prefixes, globs or `re:` patterns),
    minus `deny` (globs or `re:` patterns). robots.txt and its Crawl-delay are obeyed and every host is held
    to `fetch.rate_limit` requests per second. State and the HTML cache for `litft scrape` live in
    `<out>.crawl/`; running the same command again resumes without refetching. With --refresh a finished crawl
    is done again, cheaply: pages it fetched are asked for only if changed (a 304 costs no download), new pages
    are found through the links as usual, and removed ones (404/410, or no longer linked) leave the list.

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
        refresh: Crawl an earlier crawl's site again with conditional requests (see above); what changed and what
            it cost go to `<out>.crawl/summary.json`.
        quiet: No progress bar or summary.
        overwrite: Replace an --out file that litft did not write.
    """
    if max_pages < 1 or max_depth < 0 or concurrency < 1:
        raise LitftError("max_pages and concurrency must be at least 1 and max_depth at least 0; fix the values.")
    out = claim_output_file(out, overwrite, "--out")  # before any fetch: never a crawl for an output it cannot write
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
    records, generations, new_generation = _load_state(state_path, start, refresh)
    earlier, current = generations[:-1], generations[-1]
    state.known = _known_pages(earlier)
    state.replay(current, start)

    if fetch.contact == FetchSettings.contact and not quiet:
        print(NO_CONTACT, file=sys.stderr)
    fetcher = Fetcher(fetch, pool_size=max(10, concurrency))
    bar = progress(quiet=quiet, unit="page", desc="crawl", initial=len(state.listed))
    log_file = StateLog(state_path)
    finished, summary = False, None
    try:
        if not records or new_generation:
            log_file.append({"start": start} if not records else current[0])
        if sitemaps and not state.seeds_done:
            seeds = _sitemap_seeds(fetcher, state, start)
            log_file.append({"seeds": seeds})
            for seed in seeds:
                state.enqueue(seed, 1)
        _run(fetcher, state, log_file, cache_dir, max_pages, concurrency, bar)
        finished = bool(state.listed)  # a generation that lists nothing (the site is down) does not end one
    finally:
        log_file.append({"counts": fetcher.counts.as_dict()})
        if finished:
            summary = _summary(current, earlier, state, fetcher, max_pages)
            log_file.append({"done": summary})
            atomic_write_json(work_dir / "summary.json", summary)
        log_file.close()
        bar.close()
        # Also on an interrupt, what was found so far; never an empty list over a user error, nor a refresh's part.
        if state.listed and (finished or len(generations) == 1):
            atomic_write_json(out, state.listed[:max_pages])
            record_output_file(out)
    if not state.listed and state.start_problem:
        raise LitftError(
            f"the start URL {start} could not be crawled ({state.start_problem}); "
            "check it, or start from where it redirects."
        )
    if not quiet and summary:
        print(_summary_line(summary, out, state_path), file=sys.stderr)
    return state.listed[:max_pages]


def _load_state(state_path: Path, start: str, refresh: bool) -> tuple[list[dict], list[list[dict]], bool]:
    """The state file's lines, cut into generations, the last one new when --refresh follows a finished one."""
    records = list(iter_jsonl(state_path, skip_torn_tail=True)) if state_path.exists() else []
    if records and records[0].get("start") != start:
        raise LitftError(
            f"{state_path.parent} holds a crawl of {records[0].get('start')}, not {start}; "
            "choose another --out or delete that folder."
        )
    if refresh and not records:
        raise LitftError(
            f"--refresh needs an earlier crawl's state in {state_path.parent}; crawl without --refresh first."
        )
    generations = _generations(records)
    new_generation = refresh and any("done" in record for record in generations[-1])
    if new_generation:
        generations.append([{"refresh": len(generations)}])
    return records, generations, new_generation


def _generations(records: list[dict]) -> list[list[dict]]:
    """The state file's lines cut into generations: the first crawl, then one per `{"refresh": n}` line."""
    generations: list[list[dict]] = [[]]
    for record in records:
        if "refresh" in record:
            generations.append([])
        generations[-1].append(record)
    return generations


def _known_pages(generations: list[list[dict]]) -> dict[str, dict]:
    """url -> the newest "ok" line earlier generations have for it, when that URL answered without a redirect
    (only then does a conditional request ask about the page the validators belong to)."""
    known: dict[str, dict] = {}
    for record in (record for generation in generations for record in generation):
        if record.get("status") == "ok" and not record.get("redirects") and record.get("url") == record.get("final"):
            known[record["url"]] = record
    return known


def _summary(current: list[dict], earlier: list[list[dict]], state: CrawlState, fetcher: Fetcher, max_pages: int):
    """What a finished generation found and cost (the counts of every run that worked on it, a resumed one's
    included): summary.json and the `done` line of the state file."""
    listed = state.listed[:max_pages]
    before = [record["page"] for record in (earlier[-1] if earlier else []) if record.get("listed")]
    totals = {"requests": 0, "not_modified": 0, "bytes": 0}
    for counts in [record["counts"] for record in current if "counts" in record] + [fetcher.counts.as_dict()]:
        totals = {name: totals[name] + counts.get(name, 0) for name in totals}
    return {
        "generation": len(earlier),
        "pages": len(listed),
        "added": [url for url in listed if url not in set(before)],
        "removed": [url for url in before if url not in set(listed)],
        **totals,
        "errors": state.errors,
        "skipped": state.skipped,
        "gone": state.gone,
    }


def _summary_line(summary: dict, out: Path, state_path: Path) -> str:
    line = (
        f"crawl: {summary['pages']} pages listed in {out} ({summary['errors']} errors, {summary['skipped']} skipped; "
        f"details in {state_path}); {summary['requests']} requests, {summary['not_modified']} not modified (304), "
        f"{summary['bytes']} bytes downloaded"
    )
    if summary["generation"]:
        line += f"; refresh: {len(summary['added'])} pages added, {len(summary['removed'])} removed"
    return line


def _run(
    fetcher: Fetcher, state: CrawlState, log_file: StateLog, cache_dir: Path, max_pages: int, concurrency: int, bar
) -> None:
    in_flight: dict[Future, tuple[str, int]] = {}
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="litft-crawl")
    try:
        while True:
            while state.frontier and len(in_flight) < concurrency and len(state.listed) + len(in_flight) < max_pages:
                depth, _, url = heapq.heappop(state.frontier)
                known = state.known.get(url)
                future = pool.submit(_fetch_page, fetcher, state.scope, state.claim, cache_dir, url, known)
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
        status = "skipped" if isinstance(reason, Skipped) else "gone" if isinstance(reason, Gone) else "error"
        state.skipped += status == "skipped"
        state.gone += status == "gone"
        state.errors += status == "error"
        if status == "error":
            log.info("%s failed: %s", url, reason)
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
            "etag": fetched.page.etag,
            "last_modified": fetched.page.last_modified,
            **({"kept": fetched.kept} if fetched.kept else {}),
        }
    )
    for link in fetched.links:
        state.enqueue(link, depth + 1)
