"""A disk that fills up in the middle of a line, without root: RLIMIT_FSIZE caps how large a process may make a
file, and with SIGXFSZ ignored a write across the cap is cut short (a real partial write) and the next one fails
with EFBIG, as a full disk fails with ENOSPC. Run as `python -m tests.support.full_disk STORE FOLDER`: the store
appends record 1, then record 2 across the cap (refused), then record 3 once the cap is lifted."""

from __future__ import annotations

import json
import resource
import signal
import sys
from collections.abc import Callable
from pathlib import Path

Append = Callable[[int], None]


def review_store(folder: Path) -> tuple[Append, Path]:
    from litft.evaluation.review.items import Item
    from litft.evaluation.review.store import ReviewStore

    store = ReviewStore(folder / "reviews", "alice")
    return lambda n: store.record(Item(f"item{n}", 0, "an answer", ("lora",)), 2, "note " * 40), store.path


def generation_log(folder: Path) -> tuple[Append, Path]:
    from litft.evaluation.evaluate import GenerationLog

    log = GenerationLog(folder / "generations" / "lora.jsonl", "lora")
    return lambda n: log.append([{"key": f"key{n}", "answer": "words " * 40}]), log.path


def response_cache(folder: Path) -> tuple[Append, Path]:
    from litft.llm.cache import ResponseCache

    path = folder / "llm_cache.jsonl"
    caches = [ResponseCache(path)]

    def append(n: int) -> None:
        if n == 3:  # a cache that saw a refused write stays shut for the run; the next run opens a new one
            caches.append(ResponseCache(path))
        caches[-1].append(f"key{n}", "text " * 40, {"prompt_tokens": n})

    return append, path


def pages(folder: Path) -> tuple[Append, Path]:
    from litft.common.io import append_jsonl
    from litft.data.pages import open_for_append, page_record

    path = folder / "pages.jsonl"
    fh = open_for_append(path)
    return lambda n: append_jsonl(fh, page_record(f"https://x/{n}", "title", "text " * 40, "2024")), path


def crawl_state(folder: Path) -> tuple[Append, Path]:
    from litft.data.acquire.crawl import StateLog

    path = folder / "state.jsonl"
    log = StateLog(path)
    return lambda n: log.append({"url": f"https://x/{n}", "links": ["https://x/" + "y" * 100]}), path


def metrics_csv(folder: Path) -> tuple[Append, Path]:
    from litft.train.logging import MetricsLog

    log = MetricsLog(folder, enabled=True)
    return lambda n: log.log({"step": n, "loss": 1 / 3, "lr": 1 / 7, "loss_tokens": 10**12}), log.path


STORES: dict[str, Callable[[Path], tuple[Append, Path]]] = {
    "reviews": review_store,
    "generations": generation_log,
    "llm cache": response_cache,
    "pages": pages,
    "crawl state": crawl_state,
    "metrics.csv": metrics_csv,
}


def main() -> None:
    store, folder = sys.argv[1], Path(sys.argv[2])
    append, path = STORES[store](folder)
    append(1)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + 10, hard))  # record 2 stops 10 bytes in
    refused = None
    try:
        append(2)
    except Exception as error:  # the test checks which one it was
        refused = f"{type(error).__name__}: {error}"
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    append(3)
    print(json.dumps({"refused": refused, "path": str(path)}))


if __name__ == "__main__":
    main()
