"""`litft demo`: the whole pipeline, start to finish, on the sample site bundled with litft.

The demo owns no pipeline logic. It serves `litft/demo/site/` on 127.0.0.1 and then runs each stage
through `litft.cli.main` with the very argument list it prints, so every printed `litft ...` line is
the exact command that ran and can be re-run alone. Training settings go into `OUT/configs/*.yaml`
(passed with `--config`) so those command lines stay readable.

Re-running into the same --out starts over: the demo first removes what an earlier demo wrote there
(the names in OUTPUTS, only in a folder that holds the demo's marker file) and keeps only the
LLM response cache, so a paid synthesis is never paid for twice. Reviewers' scores in evaluate/reviews/ are
people's work: a re-run refuses to start over while they are there.
"""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from litft.common.errors import LitftError
from litft.demo.summary import print_summary

MARKER = ".litft-demo"
LLM_CACHE = "llm_cache.jsonl"
OUTPUTS = (
    "urls.json",
    "urls.crawl",
    "site",
    "qa.jsonl",
    "qa.failures.jsonl",
    "qa.filtered.jsonl",
    "qa.removed.jsonl",
    "split",
    "tokenizer",
    "pretrain_data",
    "finetune_data",
    "configs",
    "pretrain",
    "lora",
    "adapter_v2",
    "full",
    "index",
    "evaluate",
    "loss_curves.png",
    "refresh",
)
FINETUNE_METHODS = ("lora", "adapter_v2", "full")
MODEL = "litft-demo-llama"  # 2 layers, dim 64, vocab 1024, context 1536: seconds per epoch on one CPU core
PRETRAIN_WINDOW = 256  # pretraining windows; the context's rest holds retrieved passages when fine-tuned and asked
RAG_K = 2  # retrieved chunks per question in the `+rag` rows (two of the longest demo chunks fit the context)
# Unanswerable questions per answerable record (synthesize --unanswerable): the demo's table shows abstention.
UNANSWERABLE = 0.2
GENERAL_TEXT = Path(__file__).with_name("general_text.txt")  # public domain, see general_text.SOURCE.md


@dataclass(frozen=True)
class Size:
    """How much of each stage to run: the full demo, or `--fast` for CI."""

    pretrain_steps: int
    finetune_epochs: int
    eval_limit: int | None
    max_new_tokens: int


FULL = Size(pretrain_steps=300, finetune_epochs=12, eval_limit=None, max_new_tokens=48)
FAST = Size(pretrain_steps=40, finetune_epochs=3, eval_limit=8, max_new_tokens=24)


def training_configs(out: Path, size: Size) -> dict[str, dict[str, Any]]:
    """The demo's tiny training recipe, one jsonargparse config per training command (see configs/demo/)."""
    common = dict(precision="32-true", accelerator="cpu", devices=1, logger="csv")
    finetune_train = dict(
        global_batch_size=8,
        micro_batch_size=8,
        epochs=size.finetune_epochs,
        lr_warmup_steps=10,
        lr_schedule="cosine",
        save_interval=None,
        log_interval=10,
    )
    finetune_eval = dict(interval=50, max_iters=4, initial_validation=True, max_new_tokens=24)
    finetune = dict(checkpoint_dir=str(out / "pretrain" / "final"), data_dir=str(out / "finetune_data"), **common)
    return {
        "pretrain": dict(
            model_name=MODEL,
            data_dir=str(out / "pretrain_data"),
            out_dir=str(out / "pretrain"),
            seed=42,
            **common,
            train=dict(
                global_batch_size=16,
                micro_batch_size=16,
                max_steps=size.pretrain_steps,
                max_seq_length=PRETRAIN_WINDOW,
                lr_warmup_steps=20,
                lr_schedule="cosine",
                min_lr=3e-4,
                save_interval=None,
                log_interval=20,
            ),
            eval=dict(interval=100, max_iters=8),
            optimizer=dict(lr=3e-3, weight_decay=0.1),
        ),
        "lora": dict(
            out_dir=str(out / "lora"),
            **finetune,
            train=finetune_train,
            eval=finetune_eval,
            optimizer=dict(lr=1e-2),
            lora=dict(
                r=16, alpha=32, dropout=0.0, query=True, key=True, value=True, projection=True, mlp=True, head=False
            ),
        ),
        "adapter_v2": dict(
            # ~6k trainable parameters behind zero-initialised gates: it needs twice the epochs to catch up
            out_dir=str(out / "adapter_v2"),
            **finetune,
            train=dict(finetune_train, epochs=2 * size.finetune_epochs),
            eval=finetune_eval,
            optimizer=dict(lr=0.1),
            adapter=dict(prompt_length=16, start_layer=0),
        ),
        "full": dict(
            out_dir=str(out / "full"),
            **finetune,
            train=finetune_train,
            eval=finetune_eval,
            optimizer=dict(lr=2e-3, weight_decay=0.02),
        ),
    }


def _args(template: str, **paths: object) -> list[str]:
    """Split a command template on spaces, then fill in each word: paths with spaces stay one argument."""
    return [word.format(**paths) for word in template.split()]


def stage_commands(
    out: Path, base_url: str, size: Size, model: str | None, llm_url: str | None
) -> list[tuple[str, list[str]]]:
    """(title, litft arguments) of every stage, in order."""
    return data_stages(out, base_url, model, llm_url) + _model_stages(out, size)


def synthesize_options(out: Path, model: str | None, llm_url: str | None) -> list[str]:
    """`litft synthesize`'s backend arguments: --model's endpoint with the demo's response cache, or the heuristic."""
    if not model:
        return ["--backend", "heuristic"]
    options = _args("--backend openai --llm.model {model} --cache {cache}", model=model, cache=out / LLM_CACHE)
    return options + (["--llm.base_url", llm_url] if llm_url else [])


def data_stages(out: Path, base_url: str, model: str | None, llm_url: str | None) -> list[tuple[str, list[str]]]:
    site, chunks = out / "site", out / "site" / "chunks.jsonl"
    synthesize = synthesize_options(out, model, llm_url)
    return [
        (
            "crawl the site (loopback server: no rate limit)",
            _args(
                "crawl --url {url}/ --out {urls} --fetch.rate_limit 0 --fetch.contact litft-demo@localhost "
                "--fetch.retries 1 --quiet true",
                url=base_url,
                urls=out / "urls.json",
            ),
        ),
        (
            "scrape the main text of each page",
            _args("scrape --urls {urls} --out_dir {site} --quiet true", urls=out / "urls.json", site=site),
        ),
        ("clean, dedup and chunk", _args("process --directory {site} --quiet true", site=site)),
        (
            "synthesize question/answer records",
            _args("synthesize --input {chunks} --output {qa}", chunks=chunks, qa=out / "qa.jsonl")
            + synthesize
            + ["--unanswerable", str(UNANSWERABLE), "--quiet", "true"],
        ),
        (
            "filter duplicate and ungrounded records (the heuristic's questions share templates: ROUGE-L cut at 0.9)",
            _args(
                "filter --input {qa} --output {kept} --rouge_threshold 0.9 --chunks {chunks} --removed {removed} "
                "--quiet true",
                qa=out / "qa.jsonl",
                kept=out / "qa.filtered.jsonl",
                chunks=chunks,
                removed=out / "qa.removed.jsonl",
            ),
        ),
        (
            "split train/test by source chunk",
            _args("split --input {kept} --out_dir {split}", kept=out / "qa.filtered.jsonl", split=out / "split"),
        ),
    ]


def _model_stages(out: Path, size: Size) -> list[tuple[str, list[str]]]:
    configs, pretrain_txt, tokenizer = out / "configs", out / "site" / "pretrain.txt", out / "tokenizer"
    evaluate = _args("evaluate --test_file {test} --runs", test=out / "split" / "test.json") + [
        str(out / method) for method in FINETUNE_METHODS
    ]
    evaluate += _args(
        "--out_dir {out} --sampling.max_new_tokens {tokens} --batch_size 16 --rag {index} --rag_k {k} "
        "--general_text {general}",
        out=out / "evaluate",
        tokens=size.max_new_tokens,
        index=out / "index",
        k=RAG_K,
        general=GENERAL_TEXT,
    )
    evaluate += ["--limit", str(size.eval_limit)] if size.eval_limit else []
    return [
        (
            "train a 1024-token BPE tokenizer",
            _args(
                "tokenizer train --data {text} --vocab_size 1024 --out {tokenizer} --quiet true",
                text=pretrain_txt,
                tokenizer=tokenizer,
            ),
        ),
        (
            "tokenize the pretraining text",
            _args(
                "prepare pretrain --data {text} --tokenizer_dir {tokenizer} --out {data} --quiet true",
                text=pretrain_txt,
                tokenizer=tokenizer,
                data=out / "pretrain_data",
            ),
        ),
        (
            "tokenize the instruction records (validation: 10% of train; test.json stays held out)",
            _args(
                "prepare finetune --data {split} --tokenizer_dir {tokenizer} --prompt_style alpaca --val_fraction 0.1 "
                "--out {data} --quiet true",
                split=out / "split",
                tokenizer=tokenizer,
                data=out / "finetune_data",
            ),
        ),
        (
            f"pretrain {MODEL} from random init on pretrain.txt",
            ["pretrain", "--config", str(configs / "pretrain.yaml")],
        ),
        ("LoRA fine-tuning of the pretrained checkpoint", ["finetune", "lora", "--config", str(configs / "lora.yaml")]),
        ("adapter-v2 fine-tuning", ["finetune", "adapter_v2", "--config", str(configs / "adapter_v2.yaml")]),
        ("full fine-tuning", ["finetune", "full", "--config", str(configs / "full.yaml")]),
        (
            "build the retrieval index over the chunks (BM25)",
            _args(
                "index build --chunks {chunks} --out {index} --quiet true",
                chunks=out / "site" / "chunks.jsonl",
                index=out / "index",
            ),
        ),
        (
            "evaluate base vs fine-tuned, closed-book and with retrieval, on the held-out test split",
            evaluate,
        ),
    ]


def _prepare_out(out: Path, size: Size) -> None:
    """Start clean in a folder the demo owns; never touch a folder it did not make."""
    if out.exists() and not out.is_dir():
        raise LitftError(f"{out} is a file, not a folder; pass another --out.")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise LitftError(
            f"{out} already holds files that litft demo did not write; pass another --out (or an empty folder)."
        )
    reviews = out / "evaluate" / "reviews"
    if any(reviews.glob("*.jsonl")):  # people's scores from `litft review serve`: not the demo's to delete
        raise LitftError(
            f"{reviews} holds reviewers' scores, which starting the demo over would delete; move that folder "
            "away or pass another --out."
        )
    for name in OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()  # a link: only the link goes, not what it points to
    (out / "configs").mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(
        "written by `litft demo`; the demo may delete and rewrite this folder's outputs\n", encoding="utf-8"
    )
    commands = {
        "pretrain": "pretrain",
        "lora": "finetune lora",
        "adapter_v2": "finetune adapter_v2",
        "full": "finetune full",
    }
    for name, config in training_configs(out, size).items():
        path = out / "configs" / f"{name}.yaml"
        header = f"# litft {commands[name]} --config {path}\n# written by litft demo: the tiny CPU recipe\n"
        path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def check_port_free(port: int) -> None:
    """Refuse a --port out of range or in use before anything is written (0 lets the system pick a free one)."""
    if not 0 <= port <= 65535:
        raise LitftError(f"--port {port} is not a port number; give one between 1 and 65535, or 0 for any free port.")
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise LitftError(
                f"port {port} on 127.0.0.1 is not free ({error.strerror}); pass another --port (0 picks any free port)."
            ) from None


def demo(
    out: Path = Path("out/demo"),
    fast: bool = False,
    keep_server: bool = False,
    port: int = 0,
    model: str | None = None,
    base_url: str | None = None,
    threads: int = 1,
    refresh: bool = False,
) -> dict:
    """Run every litft stage on the bundled sample site and print the command line of each.

    Args:
        out: Folder for everything the demo writes (a re-run clears the earlier demo's outputs first).
        fast: A reduced size for CI: fewer training steps and test questions, every file still written.
        keep_server: Keep serving the site after the run (until Ctrl-C), to re-run the crawl command by hand.
        port: Port of the sample site on 127.0.0.1 (0: any free port).
        model: Synthesize with this OpenAI-compatible model (key from OPENAI_API_KEY) instead of the offline heuristic.
        base_url: The model's endpoint, e.g. http://localhost:8000/v1 for vLLM (default: OpenAI).
        threads: CPU threads for torch; the tiny models run fastest on one, above all on a shared machine.
        refresh: After a demo in --out: serve the site's version 2 and bring data, model and evaluation up to date
            incrementally (litft.demo.refresh), printing what changed, what it cost and the stale answers.
    """
    if base_url and not model:
        raise LitftError(
            "--base_url names the endpoint of --model; pass --model too (or neither, for the offline heuristic)."
        )
    if threads < 1:
        raise LitftError(f"--threads must be at least 1, got {threads}.")
    if Path(out).exists() and not Path(out).is_dir():
        raise LitftError(f"{out} is a file, not a folder; pass another --out.")
    if refresh:
        from litft.demo.refresh import refresh_demo

        options = synthesize_options(Path(out), model, base_url)
        return refresh_demo(Path(out), port, options, FAST if fast else FULL, threads, MARKER, Path(out) / LLM_CACHE)
    check_port_free(port)
    import torch

    from litft.cli import main
    from litft.demo.plot import plot_losses
    from litft.demo.server import serve_demo_site

    callers_threads = torch.get_num_threads()
    torch.set_num_threads(threads)  # restored at the end: the setting is process-wide
    out = Path(out)
    size = FAST if fast else FULL
    _prepare_out(out, size)
    server, site_url = serve_demo_site(port)
    started = time.perf_counter()
    timings: list[tuple[str, float]] = []
    serving_only = False  # Ctrl-C ends a --keep_server run normally only once the pipeline has finished
    try:
        print(f"litft demo: serving the sample site at {site_url}/ ; writing to {out}", flush=True)
        commands = stage_commands(out, site_url, size, model, base_url)
        for number, (title, args) in enumerate(commands, 1):
            print(f"\n[{number}/{len(commands)}] {title}\n$ litft {shlex.join(args)}", flush=True)
            stage_started = time.perf_counter()
            main(args)
            timings.append(
                (
                    args[0] if args[0] not in ("tokenizer", "prepare", "finetune", "index") else " ".join(args[:2]),
                    time.perf_counter() - stage_started,
                )
            )
            sys.stdout.flush()
        plot_losses({"pretrain": out / "pretrain", **{m: out / m for m in FINETUNE_METHODS}}, out / "loss_curves.png")
        report = json.loads((out / "evaluate" / "report.json").read_text(encoding="utf-8"))
        print_summary(out, report, timings, time.perf_counter() - started, RAG_K)
        if keep_server:
            print(f"\nstill serving {site_url}/ (Ctrl-C to stop)", flush=True)
            serving_only = True
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        if not serving_only:
            raise
    finally:
        server.stop()
        torch.set_num_threads(callers_threads)
    return report
