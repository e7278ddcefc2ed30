"""crawl_vs_sequential: pages/s of `litft crawl` (concurrency 8, no rate limit) against a plain sequential
requests loop over the same URLs, on a local server that adds 50 ms to every response.
crawl_rate_limit_holds: with a per-host limit set, the highest request rate the server saw vs the limit.

    python bench/crawl.py [--pages N]
    python bench/crawl.py --quick   # 12 pages: a smoke run of the same code (CI runs it), seconds
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from litft.data.acquire.crawl import crawl  # noqa: E402
from litft.data.acquire.fetch import FetchSettings  # noqa: E402

DELAY = 0.05


class SlowSite(ThreadingHTTPServer):
    """/b/ links to /b/p1 ... /b/p{n-1}; every response waits DELAY seconds first. Request start times are logged."""

    daemon_threads = True

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.starts: list[float] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)

    def body(self, path: str) -> bytes | None:
        if path == "/b/":
            links = "".join(f"<li><a href='/b/p{i}'>page {i}</a></li>" for i in range(1, self.pages))
            return f"<html><head><title>Index</title></head><body><ul>{links}</ul></body></html>".encode()
        if path.startswith("/b/p") and path[4:].isdigit() and 0 < int(path[4:]) < self.pages:
            text = " ".join(f"Paragraph {j} of page {path[4:]} about research." for j in range(20))
            return (
                f"<html><head><title>{path}</title></head><body><p>{text}</p><a href='/b/'>home</a></body></html>"
            ).encode()
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body in two writes meet delayed ACKs: +40 ms per response
    server: SlowSite

    def do_GET(self) -> None:  # noqa: N802
        with self.server.lock:
            self.server.starts.append(time.monotonic())
        time.sleep(DELAY)
        body = self.server.body(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args) -> None:
        pass


def serve(pages: int) -> SlowSite:
    site = SlowSite(pages)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site


def run_crawl(site: SlowSite, work: Path, name: str, **fetch) -> tuple[int, float]:
    start = time.perf_counter()
    urls = crawl(
        f"http://127.0.0.1:{site.server_address[1]}/b/",
        out=work / f"{name}.json",
        max_pages=site.pages,
        concurrency=8,
        sitemaps=False,
        fetch=FetchSettings(timeout=10, **fetch),
        quiet=True,
    )
    return len(urls), time.perf_counter() - start


def sequential(site: SlowSite) -> tuple[int, float]:
    """The baseline: the same page URLs fetched one after another with requests.Session."""
    origin = f"http://127.0.0.1:{site.server_address[1]}"
    urls = [f"{origin}/b/"] + [f"{origin}/b/p{i}" for i in range(1, site.pages)]
    start = time.perf_counter()
    with requests.Session() as session:
        fetched = sum(1 for url in urls if session.get(url, timeout=10).ok)
    return fetched, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 pages: a smoke run of the same code")
    parser.add_argument("--pages", type=int, default=None)
    args = parser.parse_args()
    pages = args.pages or (12 if args.quick else 300)

    with tempfile.TemporaryDirectory() as tmp:
        site = serve(pages)
        crawled, crawl_seconds = run_crawl(site, Path(tmp), "fast", rate_limit=0)
        fetched, sequential_seconds = sequential(site)
        assert crawled == fetched == pages, (crawled, fetched, pages)
        litft_rate, baseline_rate = crawled / crawl_seconds, fetched / sequential_seconds
        print(
            json.dumps(
                {
                    "name": "crawl_vs_sequential",
                    "litft": round(litft_rate, 1),
                    "baseline": round(baseline_rate, 1),
                    "ratio": round(litft_rate / baseline_rate, 2),
                    "unit": "pages/s",
                    "notes": f"{pages} pages, +{DELAY * 1000:.0f} ms per response, concurrency 8, no rate limit; "
                    "litft includes robots.txt, link extraction, state file and HTML cache; "
                    f"{crawl_seconds:.2f}s vs {sequential_seconds:.2f}s",
                }
            )
        )
        site.shutdown()

        limit, limited_pages = 10.0, 6 if args.quick else 61
        site = serve(limited_pages)
        crawled, seconds = run_crawl(site, Path(tmp), "limited", rate_limit=limit)
        starts = sorted(site.starts)
        gaps = [b - a for a, b in pairwise(starts)]
        # The least-squares slope of start time against request number: unlike (n-1)/span it is not swayed by one
        # late first or early last request (the first one also opens the connection).
        observed = 1 / statistics.linear_regression(range(len(starts)), starts).slope
        print(
            json.dumps(
                {
                    "name": "crawl_rate_limit_holds",
                    "litft": round(observed, 3),
                    "baseline": limit,
                    "ratio": round(limit / observed, 3),
                    "unit": "requests/s (observed vs limit; ratio >= 1 means the limit held)",
                    "notes": f"{crawled} pages + robots.txt, concurrency 8, rate_limit {limit}/s; "
                    "rate = 1/slope of server-side start times; "
                    f"mean rate over the whole span {(len(starts) - 1) / (starts[-1] - starts[0]):.3f}/s; "
                    f"smallest gap {min(gaps) * 1000:.1f} ms "
                    f"(limit {1000 / limit:.0f} ms; gaps shrink only by how late the earlier request left)",
                }
            )
        )
        site.shutdown()


if __name__ == "__main__":
    main()
