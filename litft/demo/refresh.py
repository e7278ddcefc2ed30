"""`litft demo --refresh`: the site changed; bring data, model and evaluation up to date without starting over.

After `litft demo`, the bundled site's version 2 (a few deadlines and fees changed, a course added, a news page
removed; tools/demo_site/version2.py) is served and the demo's folder is refreshed through `litft.cli.main`, each
command printed as it runs, as the demo does:

crawl --refresh (conditional requests: unchanged pages answer 304) -> scrape --refresh -> process (unchanged chunks
keep their ids; changes.json) -> synthesize --refresh (only new and changed chunks) -> filter -> split (stable: a
chunk keeps its side) -> the training records of new and changed chunks -> prepare finetune -> finetune lora
--init_from the demo's LoRA run --replay 0.2 -> index build --update -> evaluate the previous and the updated run on the
refreshed test split and the new records' questions -> evaluate stale (the questions whose chunk changed: stale
answers against updated ones).

It then prints what changed, what it cost (HTTP requests and 304s, LLM requests and tokens, seconds per stage) and
the chunks synthesized against the total. Everything new goes under `OUT/refresh/`, which a re-run replaces; the
data stages it refreshes in place are idempotent, so a killed refresh run again finishes the same way.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litft.common.errors import LitftError
from litft.common.io import atomic_write_json, iter_jsonl, read_json
from litft.common.text import parse_json
from litft.data.curate.changed import QUESTIONS, changed_chunk_ids

REFRESH_DIR = "refresh"
REPLAY = 0.2
PREVIOUS_RUN = "lora"  # the demo's run the refresh continues
UPDATED_RUN = "lora_v2"


def refresh_commands(out: Path, site_url: str, synthesize: list[str], max_new_tokens: int) -> list[tuple]:
    """(title, litft arguments) of each refresh stage."""
    site, chunks, work = out / "site", out / "site" / "chunks.jsonl", out / REFRESH_DIR
    qa, kept = str(out / "qa.jsonl"), str(out / "qa.filtered.jsonl")
    fetch = ["--fetch.rate_limit", "0", "--fetch.contact", "litft-demo@localhost", "--fetch.retries", "1"]
    return [
        (
            "crawl again with conditional requests (a page that did not change answers 304, no download)",
            ["crawl", "--url", f"{site_url}/", "--out", str(out / "urls.json"), *fetch, "--refresh", "true"]
            + ["--quiet", "true"],
        ),
        (
            "scrape the pages downloaded anew",
            [
                "scrape",
                "--urls",
                str(out / "urls.json"),
                "--out_dir",
                str(site),
                "--refresh",
                "true",
                "--quiet",
                "true",
            ],
        ),
        ("clean and chunk: unchanged chunks keep their ids, changes.json", ["process", "--directory", str(site)]),
        (
            "synthesize records for new and changed chunks only; retire the records of changed and removed ones",
            ["synthesize", "--input", str(chunks), "--output", qa, *synthesize, "--refresh", "true", "--quiet", "true"],
        ),
        (
            "filter",
            ["filter", "--input", qa, "--output", kept, "--rouge_threshold", "0.9", "--chunks", str(chunks)]
            + ["--removed", str(out / "qa.removed.jsonl"), "--quiet", "true"],
        ),
        ("split (stable: a chunk keeps its side)", ["split", "--input", kept, "--out_dir", str(out / "split")]),
        (
            "the training records of new and changed chunks, and the questions to evaluate the update on",
            ["changed_records", "--split_dir", str(out / "split"), "--changes", str(site / "changes.json")]
            + ["--out_dir", str(work)],
        ),
        (
            "tokenize them",
            ["prepare", "finetune", "--data", str(work / "new_train.json"), "--tokenizer_dir", str(out / "tokenizer")]
            + ["--prompt_style", "alpaca", "--out", str(work / "finetune_data"), "--quiet", "true"],
        ),
        (
            f"continue the LoRA run on them with {REPLAY:.0%} of its old records replayed",
            ["finetune", "lora", "--config", str(out / "configs" / "lora.yaml"), "--data_dir"]
            + [str(work / "finetune_data"), "--out_dir", str(work / UPDATED_RUN), "--init_from", str(out / "lora")]
            + ["--replay", str(REPLAY), "--eval.interval", "1000000", "--eval.initial_validation", "false"],
        ),
        (
            "index the refreshed chunks (--update: an unchanged chunk keeps its vectors from the demo's index)",
            ["index", "build", "--chunks", str(chunks), "--out", str(work / "index"), "--update", str(out / "index")]
            + ["--quiet", "true"],
        ),
        (
            "evaluate the previous and the updated run: the refreshed test split and the new records' questions",
            ["evaluate", "--test_file", str(work / QUESTIONS), "--runs", str(out / PREVIOUS_RUN)]
            + [str(work / UPDATED_RUN), "--out_dir", str(work / "evaluate"), "--batch_size", "16"]
            + ["--sampling.max_new_tokens", str(max_new_tokens), "--rag", str(work / "index"), "--rag_k", "2"],
        ),
        (
            "stale answers: the questions whose source chunk changed",
            ["evaluate", "stale", str(work / "evaluate"), "--changes", str(site / "changes.json")],
        ),
    ]


def _llm_usage(cache: Path) -> tuple[int, int]:
    """(responses, tokens) in the LLM response cache: the difference over a stage is what that stage paid for."""
    if not cache.is_file():
        return 0, 0
    entries = list(iter_jsonl(cache, skip_torn_tail=True))
    tokens = sum(
        int(e.get("usage", {}).get("prompt_tokens", 0)) + int(e.get("usage", {}).get("completion_tokens", 0))
        for e in entries
        if isinstance(e.get("usage"), dict)
    )
    return len(entries), tokens


def check_refreshable(out: Path, marker: str) -> None:
    """A refresh continues a finished `litft demo` in `out`; say so before serving anything."""
    if not (out / marker).is_file() or not (out / PREVIOUS_RUN / "final").is_dir():
        raise LitftError(f"{out} holds no finished demo to refresh; run `litft demo --out {out}` first.")


def run_refresh(out: Path, site_url: str, synthesize: list[str], max_new_tokens: int, cache: Path) -> dict[str, Any]:
    """Run every refresh stage through the CLI, printing each command; returns what the summary reports."""
    from litft.cli import main

    work = out / REFRESH_DIR
    if work.is_dir():
        shutil.rmtree(work)  # the demo's own folder (check_refreshable found its marker); a re-run starts it over
    work.mkdir()
    old_chunks = sum(1 for _ in iter_jsonl(out / "site" / "chunks.jsonl"))
    synthesized_before = {r.get("source_id") for r in iter_jsonl(out / "qa.jsonl")}
    usage_before = _llm_usage(cache)
    timings: list[tuple[str, float]] = []
    commands = refresh_commands(out, site_url, synthesize, max_new_tokens)
    started = time.perf_counter()
    for number, (title, args) in enumerate(commands, 1):
        print(f"\n[refresh {number}/{len(commands)}] {title}\n$ litft {shlex.join(args)}", flush=True)
        stage_started = time.perf_counter()
        main(args)
        if args[0] == "changed_records" and not read_json(work / "new_train.json"):
            raise LitftError("the site did not change since the demo's crawl: there is nothing to refresh.")
        two_words = args[0] in ("prepare", "finetune", "index") or args[:2] == ["evaluate", "stale"]
        timings.append((" ".join(args[:2]) if two_words else args[0], time.perf_counter() - stage_started))
        sys.stdout.flush()
    chunks = [c["id"] for c in iter_jsonl(out / "site" / "chunks.jsonl")]
    attempted = set(chunks) - synthesized_before  # synthesize --refresh asks for every chunk without records
    usage_after = _llm_usage(cache)
    return {
        "seconds": time.perf_counter() - started,
        "timings": timings,
        "chunks": {
            "before": old_chunks,
            "now": len(chunks),
            "synthesized": len(attempted),
            "new_or_changed": len(attempted & changed_chunk_ids(out / "site" / "changes.json")),
        },
        "records": {
            "new": len(read_json(work / "new_train.json")),
            "train": len(read_json(out / "split" / "train.json")),
        },
        "llm": {"requests": usage_after[0] - usage_before[0], "tokens": usage_after[1] - usage_before[1]},
        "changes": read_json(out / "site" / "changes.json"),
        "crawl": _crawl_summary(out),  # crawl --refresh's own account: requests, 304s, bytes
        "stale": read_json(work / "evaluate" / "stale.json"),
    }


def _crawl_summary(out: Path) -> dict[str, Any]:
    path = out / "urls.crawl" / "summary.json"
    return read_json(path) if path.is_file() else {}


def print_refresh_summary(summary: dict[str, Any]) -> None:
    """What changed, what it cost, and whether the update fixed the stale answers."""
    pages, chunks = summary["changes"]["pages"], summary["changes"]["chunks"]
    print("\n== litft demo --refresh: the site changed")
    print(
        f"pages: {len(pages['added'])} added, {len(pages['changed'])} changed, {len(pages['removed'])} removed, "
        f"{pages['unchanged']} unchanged; chunks: {len(chunks['added'])} added, {len(chunks['changed'])} changed, "
        f"{len(chunks['removed'])} removed, {chunks['unchanged']} unchanged"
    )
    counted = summary["chunks"]
    print(
        f"synthesized: {counted['synthesized']} of {counted['now']} chunks ({counted['new_or_changed']} new or "
        "changed, the others without records so far; the rest kept theirs); "
        f"trained on {summary['records']['new']} new records of {summary['records']['train']} with "
        f"{REPLAY:.0%} of the earlier run's records replayed"
    )
    answered = ", ".join(f"{count} x {status}" for status, count in sorted(summary["http_responses"].items()))
    llm = summary["llm"]
    print(f"cost: the site answered {answered}; LLM {llm['requests']} requests, {llm['tokens']} tokens")
    print(
        "stage times: "
        + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in summary["timings"])
        + f"; total {summary['seconds']:.0f}s"
    )
    stale = summary["stale"]
    changed = stale["groups"]["changed"]
    rows = changed["rows"]
    print(
        f"stale answers ({changed['n']} questions from changed chunks): {stale['previous']} ROUGE-L "
        f"{rows[stale['previous']]['rougeL']:.4f} -> {stale['updated']} {rows[stale['updated']]['rougeL']:.4f}"
    )
    print("details: site/changes.json, qa.retired.jsonl, refresh/evaluate/stale.json, refresh/summary.json")


def site_port(out: Path, port: int) -> int:
    """The port the demo's crawl used (its URLs' origin), so the refreshed crawl asks for the same URLs; --port
    overrides it."""
    if port:
        return port
    urls = read_json(out / "urls.json") if (out / "urls.json").is_file() else []
    found = urlsplit(urls[0]).port if isinstance(urls, list) and urls and isinstance(urls[0], str) else None
    if found is None:
        raise LitftError(f"{out / 'urls.json'} names no page of the demo site; run `litft demo --out {out}` again.")
    return found


def refresh_demo(
    out: Path, port: int, synthesize: list[str], size: Any, threads: int, marker: str, cache: Path
) -> dict[str, Any]:
    """Serve version 2 of the site where the demo's crawl found version 1 and refresh the demo in `out` (`marker`:
    the demo's marker file, `cache`: its LLM response cache; `size`: its Size, for the answers' length)."""
    check_refreshable(out, marker)
    port = site_port(out, port)  # a port taken since is an OSError the CLI says in one sentence
    import torch

    from litft.demo.server import serve_demo_site

    callers_threads = torch.get_num_threads()
    torch.set_num_threads(threads)  # restored at the end: the setting is process-wide
    server, site_url = serve_demo_site(port, site_version=2)
    try:
        print(f"litft demo --refresh: serving version 2 of the sample site at {site_url}/ ; refreshing {out}")
        summary = run_refresh(out, site_url, synthesize, size.max_new_tokens, cache)
        summary["http_responses"] = dict(server.responses)
    finally:
        server.stop()
        torch.set_num_threads(callers_threads)
    print_refresh_summary(summary)
    atomic_write_json(out / REFRESH_DIR / "summary.json", parse_json(json.dumps(summary, default=str)))
    return summary
