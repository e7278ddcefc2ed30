"""Benchmark `litft prepare pretrain` against the tokenizer's own speed and the Hugging Face `datasets` path.

    python bench/prepare.py            # 64 MB generated corpus, best of 3 rounds
    python bench/prepare.py --quick    # 0.5 MB, one round: a smoke run of the same code (CI runs it)
    python bench/prepare.py --rss_gb 1 # also: peak RSS of litft on a 1 GB corpus

Prints one JSON object per line:
- `prepare_vs_tokenizer_bound`: litft end to end (read, split, encode, write, meta) against the
  `tokenizers` library encoding the same text already in memory (the faster of `encode_batch` and
  `encode_batch_fast`, timing only that call) -- the ceiling for any prepare step.
- `prepare_vs_hf_datasets`: against `datasets.load_dataset("text") -> map(batched, num_proc=cores)
  -> ids written to a uint16 memmap` (nanoGPT/litgpt's classic prepare script), same tokenizer.
- `prepare_peak_rss_<N>gb` (with --rss_gb): the 1024 MB budget divided by litft's peak RSS (>= 1: within budget).

The tokenizer is a 16k byte-level BPE trained by `litft tokenizer train` on the corpus's first MBs.
Each measured path runs in its own process so peak RSS is its own. Tokens are counted without the
EOS litft appends per document, so all three count the same tokens.

`datasets` is a dependency of litft itself (it reads users' Hugging Face datasets), so nothing beyond
`pip install -e ".[bench]"` is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VOCAB_SIZE = 16384


def generate_corpus(path: Path, megabytes: float, seed: int = 0) -> None:
    """Zipf-distributed words from a 30k-word synthetic lexicon, ~2 KB documents, one per line."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    weights = 1.0 / np.arange(1, 27) ** 0.8
    lexicon = ["".join(rng.choice(letters, size=rng.integers(1, 11), p=weights / weights.sum())) for _ in range(30000)]
    lexicon += ["Über", "naïve", "café", "日本語", "2024", "€", "—"]
    probabilities = 1.0 / np.arange(1, len(lexicon) + 1) ** 1.1
    probabilities /= probabilities.sum()
    target = int(megabytes * (1 << 20))
    written = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < target:
            words = np.array(lexicon, dtype=object)[rng.choice(len(lexicon), size=200_000, p=probabilities)]
            lengths = rng.integers(150, 450, size=2000)
            start = 0
            lines = []
            for length in lengths:
                sentence_words = words[start : start + length]
                start += length
                if len(sentence_words) == 0:
                    break
                lines.append(" ".join(sentence_words).capitalize().replace(" the ", ". The ") + ".")
            block = "\n".join(lines) + "\n"
            fh.write(block)
            written += len(block.encode("utf-8"))


def run_child(code: str) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line. Adds its peak RSS and its workers' in MB."""
    wrapped = code + (
        "\nimport resource\n"
        "result['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "result['peak_worker_rss_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps(result))"
    )
    done = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


BOUND = """
import json, time
from tokenizers import Tokenizer
tokenizer = Tokenizer.from_file({tokenizer!r})
lines = open({corpus!r}, encoding="utf-8").read().split("\\n")[:-1]
batches = [lines[i : i + 4096] for i in range(0, len(lines), 4096)]
best = None
for method in ("encode_batch", "encode_batch_fast"):
    encode = getattr(tokenizer, method)
    start = time.perf_counter(); tokens = 0
    for batch in batches:
        encodings = encode(batch)
        tokens += sum(len(e) for e in encodings)  # len() is O(1): counting barely touches the timing
    seconds = time.perf_counter() - start
    if best is None or seconds < best[1]:
        best = (method, seconds, tokens)
result = {{"method": best[0], "seconds": best[1], "tokens": best[2]}}
"""

# litft loads tokenizers through litgpt, whose import (torch, lightning) prepare_pretrain defers until its arguments
# are checked: it is imported before the clock here, as the other paths import tokenizers and datasets before theirs,
# and its seconds are reported on their own (every `litft prepare pretrain` process pays them once).
LITFT = """
import json, time
from litft.prepare.pretrain import prepare_pretrain
start = time.perf_counter()
import litgpt
import_seconds = time.perf_counter() - start
start = time.perf_counter()
meta = prepare_pretrain(
    data={corpus!r}, out={out!r}, checkpoint_dir={tokenizer_dir!r}, val_fraction=0.05, split_lines=True, quiet=True
)
seconds = time.perf_counter() - start
splits = meta["splits"].values()
result = {{
    "seconds": seconds, "tokens": sum(s["tokens"] - s["documents"] for s in splits), "import_seconds": import_seconds
}}
"""

HF_DATASETS = """
import json, os, time
import numpy as np
from datasets import load_dataset, disable_progress_bars
from tokenizers import Tokenizer
disable_progress_bars()
start = time.perf_counter()
tokenizer = Tokenizer.from_file({tokenizer!r})
eos = tokenizer.token_to_id("</s>")
def tokenize(batch):
    ids = [e.ids + [eos] for e in tokenizer.encode_batch(batch["text"])]
    return {{"ids": ids, "len": [len(x) for x in ids]}}
dataset = load_dataset("text", data_files={corpus!r}, cache_dir={cache!r})["train"]
split = dataset.train_test_split(test_size=0.05, seed=42, shuffle=True)
total = 0; documents = 0
for name, part in split.items():
    part = part.map(
        tokenize, batched=True, remove_columns=["text"], num_proc=os.cpu_count(), load_from_cache_file=False
    )
    length = int(np.sum(part["len"], dtype=np.uint64))
    array = np.memmap(os.path.join({out!r}, name + ".bin"), dtype=np.uint16, mode="w+", shape=(length,))
    index = 0
    shards = max(1, min(1024, len(part) // 64))
    for shard in range(shards):  # nanoGPT's write loop
        batch = part.shard(num_shards=shards, index=shard, contiguous=True).with_format("numpy")
        ids = np.concatenate(batch["ids"]) if len(batch) else np.empty(0, np.uint16)
        array[index : index + len(ids)] = ids
        index += len(ids)
    array.flush()
    total += length; documents += len(part)
seconds = time.perf_counter() - start
result = {{"seconds": seconds, "tokens": total - documents}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.5 MB corpus: a smoke run of the same code")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="measure each path this many times, keep the best (default 3; 1 with --quick)",
    )
    parser.add_argument(
        "--rss_gb", type=float, default=0.0, help="also measure litft's peak RSS on a corpus of this many GB"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where to keep the corpus and tokenizer (default: a temp dir)"
    )
    args = parser.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    from litft.prepare.tokenizer_training import train_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        megabytes = 0.5 if args.quick else 64
        corpus = work / f"corpus_{megabytes:g}mb.txt"
        if not corpus.exists():
            generate_corpus(corpus, megabytes)
        tokenizer_dir = work / "tokenizer"
        if not (tokenizer_dir / "tokenizer_config.json").exists():
            sample = work / "tokenizer_sample.txt"
            with open(corpus, "rb") as fh:
                sample.write_bytes(fh.read(4 << 20))
            train_tokenizer(data=sample, out=tokenizer_dir, vocab_size=VOCAB_SIZE, split_lines=True, quiet=True)
        fields = {
            "corpus": str(corpus),
            "tokenizer": str(tokenizer_dir / "tokenizer.json"),
            "tokenizer_dir": str(tokenizer_dir),
        }

        runs = {
            "bound": lambda: run_child(BOUND.format(**fields)),
            "litft": lambda: _run_and_clean(LITFT, work / f"litft_{time.time_ns()}", fields),
            "hf": lambda: _run_and_clean(HF_DATASETS, work / f"hf_{time.time_ns()}", fields, make_out=True),
        }
        results: dict[str, list[dict]] = {name: [] for name in runs}
        for round_number in range(args.rounds):  # rotate the order so drifting machine load hits every path alike
            names = list(runs)[round_number % 3 :] + list(runs)[: round_number % 3]
            for name in names:
                results[name].append(runs[name]())
        best = {name: min(found, key=lambda result: result["seconds"]) for name, found in results.items()}
        bound, litft, hf = best["bound"], best["litft"], best["hf"]
        rss = {name: max(result["peak_rss_mb"] for result in found) for name, found in results.items()}
        if not litft["tokens"] == bound["tokens"] == hf["tokens"]:
            raise SystemExit(
                f"token counts differ: litft {litft['tokens']}, bound {bound['tokens']}, datasets {hf['tokens']}"
            )

        rate = {
            name: result["tokens"] / result["seconds"]
            for name, result in (("litft", litft), ("bound", bound), ("hf", hf))
        }
        common = (
            f"{megabytes:g} MB generated text, {bound['tokens']:,} tokens, {VOCAB_SIZE}-token BPE, "
            f"{os.cpu_count()} cores (shared machine), best of {args.rounds}"
        )
        report(
            "prepare_vs_tokenizer_bound",
            rate["litft"],
            rate["bound"],
            f"{common}; bound = tokenizers.{bound['method']} on in-memory text, call only; litft end to end "
            f"(tokenizer load, count pass, read, split, encode, write, meta) peak RSS {rss['litft']:.0f} MB; "
            f"not timed, as no path's imports are: litgpt's import, {litft['import_seconds']:.1f} s",
        )
        report(
            "prepare_vs_hf_datasets",
            rate["litft"],
            rate["hf"],
            f"{common}; datasets load_dataset('text') + map(num_proc={os.cpu_count()}) + memmap write, "
            f"peak RSS {rss['hf']:.0f} MB "
            f"+ {max(r['peak_worker_rss_mb'] for r in results['hf']):.0f} MB per map worker",
        )
        if args.rss_gb:
            big = work / f"corpus_{args.rss_gb:g}gb.txt"
            if not big.exists():
                _repeat_to_size(corpus, big, int(args.rss_gb * (1 << 30)))
            result = _run_and_clean(LITFT, work / f"litft_big_{time.time_ns()}", {**fields, "corpus": str(big)})
            report(  # higher is better, as for every line: the 1 GB budget over the peak, >= 1 means within it
                f"prepare_peak_rss_{args.rss_gb:g}gb",
                1024.0 / result["peak_rss_mb"],
                1.0,
                f"peak RSS {result['peak_rss_mb']:.0f} MB against a 1024 MB budget; {result['tokens']:,} tokens at "
                f"{result['tokens'] / result['seconds']:,.0f} tokens/s",
                unit="budget / peak RSS",
            )


def _run_and_clean(template: str, out: Path, fields: dict, make_out: bool = False) -> dict:
    """Run one measured path writing into `out`, then delete what it wrote."""
    if make_out:
        out.mkdir()
    try:
        return run_child(template.format(out=str(out), cache=str(out / "cache"), **fields))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _repeat_to_size(source: Path, target: Path, size: int) -> None:
    block = source.read_bytes()
    with open(target, "wb") as fh:
        for _ in range(-(-size // len(block))):
            fh.write(block)


def report(name: str, litft: float, baseline: float, notes: str, unit: str = "tokens/s") -> None:
    print(
        json.dumps(
            {
                "name": name,
                "litft": round(litft, 1),
                "baseline": round(baseline, 1),
                "ratio": round(litft / baseline, 3),
                "unit": unit,
                "notes": notes,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
