"""refresh_llm_requests / refresh_wall_time: `litft` brought up to date after a site changed, against a full re-run.

A generated site of N pages (2,000; --quick: 60) is served on 127.0.0.1 with ETag and Last-Modified, and a fake
OpenAI-compatible LLM answers synthesis requests after a fixed latency (20 ms). Version 1 is crawled, scraped,
chunked, synthesized and indexed once (not timed). Then 5% of the pages change (one paragraph each) and:

- refresh: crawl --refresh (conditional requests: unchanged pages answer 304) -> scrape --refresh -> process (ids of
  unchanged chunks kept, changes.json) -> synthesize --refresh (only new and changed chunks) -> index build --update;
- full re-run: the same stages from nothing on version 2, in a fresh folder without the response cache.

Both are timed in the same process, one after the other, and their outputs compared (same chunk texts, same
number of records). Targets: LLM requests <= 0.1x, wall time <= 0.2x the full re-run's.

    python bench/refresh.py [--pages N]
    python bench/refresh.py --quick   # 60 pages: a smoke run of the same code (CI runs it)
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import random
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from litft.cli import main as litft  # noqa: E402
from tests.support.fake_openai import FakeOpenAI  # noqa: E402

LLM_LATENCY = 0.02
CHANGED_SHARE = 0.05
WORDS = (
    "admission research laboratory course deadline tuition scholarship faculty library campus engineering program "
    "student semester credit lecture seminar project thesis grant housing dining advisor department graduate "
    "undergraduate calculus robotics materials energy software network sensor bridge river harbour tower"
).split()
LAST_MODIFIED = {1: "Sun, 01 Jun 2025 00:00:00 GMT", 2: "Wed, 01 Oct 2025 00:00:00 GMT"}


def paragraph(rng: random.Random, page: int, number: int) -> str:
    """About 60 words no other page shares, so boilerplate removal and dedup keep every page's text."""
    words = " ".join(rng.choice(WORDS) for _ in range(50))
    return f"Page {page} section {number} notes that {words} and ends with code P{page}S{number}."


class GeneratedSite(ThreadingHTTPServer):
    """/site/ lists every page; /site/pN.html has three paragraphs. `version = 2` changes CHANGED_SHARE of them."""

    daemon_threads = True

    def __init__(self, pages: int) -> None:
        self.version = 1
        self.texts = {}
        for page in range(pages):
            rng = random.Random(page)
            self.texts[page] = [paragraph(rng, page, n) for n in range(3)]
        self.changed = set(random.Random(0).sample(range(pages), max(1, round(CHANGED_SHARE * pages))))
        self.answers: dict[int, int] = {}
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)

    def body(self, path: str) -> tuple[bytes, int] | None:
        """The page's HTML and the version that last changed it."""
        if path == "/site/":
            links = "".join(f'<li><a href="/site/p{i}.html">Page {i}</a></li>' for i in self.texts)
            return f"<html><head><title>Index</title></head><body><ul>{links}</ul></body></html>".encode(), 1
        name = path.removeprefix("/site/p").removesuffix(".html")
        if not path.startswith("/site/p") or not name.isdigit() or int(name) not in self.texts:
            return None
        page = int(name)
        texts = list(self.texts[page])
        changed = self.version == 2 and page in self.changed
        if changed:
            texts[1] = texts[1].replace("notes that", "now says that the rule changed, and that", 1)
        paragraphs = "".join(f"<p>{text}</p>" for text in texts)
        html = f"<html><head><title>Page {page}</title></head><body><h1>Page {page}</h1>{paragraphs}</body></html>"
        return html.encode(), 2 if changed else 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: GeneratedSite

    def do_GET(self) -> None:  # noqa: N802
        found = self.server.body(self.path)
        status, body, headers = 404, b"", {}
        if found is not None:
            body, version = found
            headers = {"ETag": f'"{hashlib.sha256(body).hexdigest()[:16]}"', "Last-Modified": LAST_MODIFIED[version]}
            status = 304 if self.headers.get("If-None-Match") == headers["ETag"] else 200
        with self.server.lock:
            self.server.answers[status] = self.server.answers.get(status, 0) + 1
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status == 200:
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def run_stages(site_url: str, llm_url: str, work: Path, refresh: bool) -> dict[str, float]:
    """crawl -> scrape -> process -> synthesize -> index in `work` (a refresh of what is there with `refresh`);
    returns the seconds each took. Their printed summaries go nowhere: stdout holds only the JSON lines."""
    again = ["--refresh", "true"] if refresh else []
    update = ["--update", str(work / "index")] if refresh else []  # unchanged chunks keep their vectors
    fetch = ["--fetch.rate_limit", "0", "--fetch.contact", "bench@localhost"]
    chunks, qa = str(work / "site" / "chunks.jsonl"), str(work / "qa.jsonl")
    llm = ["--backend", "openai", "--llm.model", "fake", "--llm.base_url", llm_url, "--llm.workers", "4"]
    stages = [
        ["crawl", "--url", site_url, "--out", str(work / "urls.json"), "--sitemaps", "false", "--concurrency", "8"]
        + ["--max_pages", "100000", *fetch, *again, "--quiet", "true"],
        ["scrape", "--urls", str(work / "urls.json"), "--out_dir", str(work / "site"), *again, "--quiet", "true"],
        ["process", "--directory", str(work / "site"), "--quiet", "true"],
        ["synthesize", "--input", chunks, "--output", qa, *llm, "--cache", str(work / "llm.jsonl"), *again]
        + ["--quiet", "true"],
        ["index", "build", "--chunks", chunks, "--out", str(work / "index"), *update, "--quiet", "true"],
    ]
    seconds = {}
    for args in stages:
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            litft(args)
        seconds[args[0]] = time.perf_counter() - started
    return seconds


def chunk_texts(work: Path) -> list[str]:
    lines = (work / "site" / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    return sorted(json.loads(line)["text"] for line in lines)


def records(work: Path) -> int:
    return len((work / "qa.jsonl").read_text(encoding="utf-8").splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 pages: a smoke run of the same code")
    parser.add_argument("--pages", type=int, default=None)
    args = parser.parse_args()
    pages = args.pages or (60 if args.quick else 2000)

    site = GeneratedSite(pages)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    site_url = f"http://127.0.0.1:{site.server_address[1]}/site/"
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(response_delay=LLM_LATENCY) as llm:
        project, fresh = Path(tmp) / "project", Path(tmp) / "full"
        first_seconds = sum(run_stages(site_url, llm.base_url, project, refresh=False).values())
        site.version = 2
        before, answers_before = len(llm.requests), dict(site.answers)
        refresh_stages = run_stages(site_url, llm.base_url, project, refresh=True)
        refresh_seconds = sum(refresh_stages.values())
        refresh_requests = len(llm.requests) - before
        refresh_answers = {status: site.answers[status] - answers_before.get(status, 0) for status in site.answers}
        before = len(llm.requests)
        full_stages = run_stages(site_url, llm.base_url, fresh, refresh=False)
        full_seconds = sum(full_stages.values())
        full_requests = len(llm.requests) - before
        assert chunk_texts(project) == chunk_texts(fresh), "the refreshed chunks differ from a full re-run's"
        assert records(project) == records(fresh), (records(project), records(fresh))
        changes = json.loads((project / "site" / "changes.json").read_text(encoding="utf-8"))
        notes = (
            f"{pages} pages, {len(site.changed)} changed ({len(changes['chunks']['changed'])} chunks); fake LLM "
            f"+{LLM_LATENCY * 1000:.0f} ms, 4 workers; refresh {refresh_seconds:.2f}s vs full {full_seconds:.2f}s "
            f"(first run {first_seconds:.2f}s); the site answered the refresh {refresh_answers.get(304, 0)} x 304, "
            f"{refresh_answers.get(200, 0)} x 200; same chunk texts and {records(project)} records either way; "
            + "stages refresh/full: "
            + ", ".join(f"{k} {refresh_stages[k]:.2f}/{full_stages[k]:.2f}s" for k in full_stages)
        )
    for name, litft_value, baseline, unit in (
        ("refresh_llm_requests", refresh_requests, full_requests, "LLM requests (target ratio <= 0.1)"),
        ("refresh_wall_time", round(refresh_seconds, 3), round(full_seconds, 3), "seconds (target ratio <= 0.2)"),
    ):
        ratio = litft_value / baseline
        print(
            json.dumps(
                {
                    "name": name,
                    "litft": litft_value,
                    "baseline": baseline,
                    "ratio": round(ratio, 4),
                    "unit": unit,
                    "notes": notes,
                }
            )
        )
    site.shutdown()


if __name__ == "__main__":
    main()
