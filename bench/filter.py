"""Benchmark litft's ROUGE-L novelty filter against the naive pairwise rouge-score loop of Self-Instruct.

    python bench/filter.py             # 20,000 generated instructions
    python bench/filter.py --quick     # 400: a smoke run of the same code (CI runs it), seconds
    python bench/filter.py --n 50000   # any size

Prints one JSON object per line, `rouge_filter_vs_naive`: throughput in instructions per second of
`litft filter` end to end (read JSONL, all rules, ROUGE-L at 0.7, write) against the naive loop (for
each instruction, `RougeScorer(["rougeL"]).score` against every kept one, keep if all <= 0.7).

The naive loop would take hours on the full set, so it runs on a sample (the first instructions) and
its time is extrapolated: its seconds per scored pair on the sample, times the number of pairs it would
score on the full set. That count is exact, since litft's decisions equal the naive ones (checked on the
sample: the kept sets must be identical, or the benchmark fails).

The instructions mimic a model's output: task templates filled from small vocabularies (so many share
most of their words, as generated instructions do), plus Self-Instruct seed tasks with small edits.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from rouge_score import rouge_scorer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from litft.data.curate.filter import (  # noqa: E402
    DEFAULT_BLACKLIST,
    RecordRules,
    filter_records,
    normalised,
    read_filter_input,
)
from litft.data.curate.rouge_dedup import make_tokenizer, rouge_novel_mask  # noqa: E402

THRESHOLD = 0.7
SEED_TASKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "self-instruct" / "seed_tasks.jsonl"

VERBS = [
    "Explain",
    "Summarize",
    "Describe",
    "List",
    "Compare",
    "Suggest",
    "Write",
    "Classify",
    "Rewrite",
    "Translate",
    "Identify",
    "Generate",
    "Evaluate",
    "Outline",
    "Recommend",
    "Analyze",
    "Create",
    "Find",
    "Give",
    "Propose",
]
OBJECTS = [
    "a short story",
    "three tips",
    "the main idea",
    "a polite email",
    "a product description",
    "the pros and cons",
    "a haiku",
    "a list of questions",
    "the key differences",
    "a step-by-step guide",
    "an analogy",
    "a summary",
    "a catchy slogan",
    "five facts",
    "a recipe",
    "a lesson plan",
    "the sentiment",
    "a counterargument",
]
TOPICS = [
    "climate change",
    "remote work",
    "a healthy breakfast",
    "the French revolution",
    "machine learning",
    "saving money",
    "a job interview",
    "public transport",
    "learning a language",
    "urban gardening",
    "the solar system",
    "social media",
    "a birthday party",
    "time management",
    "electric cars",
    "chess openings",
    "the water cycle",
    "customer complaints",
    "sleep hygiene",
    "renewable energy",
    "a city break",
    "team meetings",
    "volcanoes",
    "online privacy",
    "a marathon",
    "ancient Rome",
    "coffee brewing",
    "the stock market",
]
AUDIENCES = [
    "",
    "for a child",
    "for beginners",
    "in one sentence",
    "for a busy manager",
    "in simple words",
    "for a newsletter",
    "using bullet points",
    "for a teenager",
    "in a formal tone",
]


def generate_instructions(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    seeds = (
        [json.loads(line)["instruction"] for line in SEED_TASKS.read_text().splitlines() if line.strip()]
        if SEED_TASKS.is_file()
        else []
    )
    instructions = []
    while len(instructions) < count:
        if seeds and rng.random() < 0.2:
            words = rng.choice(seeds).split()
            for _ in range(rng.randint(0, 3)):
                words.insert(rng.randrange(len(words) + 1), rng.choice(["please", "the", "new", "short", "given"]))
            instructions.append(" ".join(words))
        else:
            parts = [rng.choice(VERBS), rng.choice(OBJECTS), "about", rng.choice(TOPICS), rng.choice(AUDIENCES)]
            if rng.random() < 0.5:
                parts.append(f"and mention {rng.choice(TOPICS)}")
            instructions.append(" ".join(part for part in parts if part) + ".")
    return instructions


def naive_filter(instructions: list[str]) -> tuple[list[bool], int]:
    """(keep mask, pairs scored): Self-Instruct's loop, rouge-score on every pair with the kept pool."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    kept, keep, pairs = [], [], 0
    for instruction in instructions:
        scores = [scorer.score(other, instruction)["rougeL"].fmeasure for other in kept]
        pairs += len(scores)
        novel = not scores or max(scores) <= THRESHOLD
        keep.append(novel)
        if novel:
            kept.append(instruction)
    return keep, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="400 instructions: a smoke run of the same code")
    parser.add_argument("--n", type=int, default=None, help="number of instructions (default 20,000)")
    args = parser.parse_args()
    count = args.n or (400 if args.quick else 20_000)
    sample_size = 100 if args.quick else 1_200

    instructions = generate_instructions(count)
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        records = [
            {"instruction": text, "input": "", "output": f"Answer {i}.", "source_id": str(i)}
            for i, text in enumerate(instructions)
        ]
        source.write_text("".join(json.dumps(record) + "\n" for record in records))
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # its summary would break the one-JSON-per-line output
            filter_records(source, target, rouge_threshold=THRESHOLD, quiet=True)
        litft_seconds = time.perf_counter() - start
        kept_by_litft = sum(1 for _ in target.open())
        _, views = read_filter_input(source)

    # The instructions the ROUGE stage sees (rules and exact duplicates removed first, as `litft filter` does with
    # its defaults), and its decisions.
    tokenize = make_tokenizer()
    rules = RecordRules(3, 150, DEFAULT_BLACKLIST)
    seen, stage = set(), {}
    for view in views:
        key = tuple(normalised(part) for part in view.prompt)
        if rules.reason(view) is None and key not in seen:
            seen.add(key)
            stage[view.instruction] = None
    stage = list(stage)
    mask = rouge_novel_mask([tokenize(text) for text in stage], THRESHOLD)
    if sum(mask) != kept_by_litft:  # the stage rebuilt here has drifted from what `litft filter` does
        raise SystemExit(f"litft filter kept {kept_by_litft} records, this benchmark's copy of its stages {sum(mask)}")
    full_pairs, kept_so_far = 0, 0
    for novel in mask:
        full_pairs += kept_so_far
        kept_so_far += novel

    sample = stage[:sample_size]
    start = time.perf_counter()
    naive_mask, sample_pairs = naive_filter(sample)
    naive_sample_seconds = time.perf_counter() - start
    fast_sample_mask = rouge_novel_mask([tokenize(text) for text in sample], THRESHOLD)
    if naive_mask != fast_sample_mask:
        raise SystemExit("litft's kept set differs from the naive loop's on the sample")
    naive_seconds = naive_sample_seconds / sample_pairs * full_pairs

    print(
        json.dumps(
            {
                "name": "rouge_filter_vs_naive",
                "litft": round(count / litft_seconds, 1),
                "baseline": round(count / naive_seconds, 3),
                "ratio": round(naive_seconds / litft_seconds, 1),
                "unit": "instructions/s",
                "notes": (
                    f"{count} generated instructions, ROUGE-L threshold {THRESHOLD}; litft filter end to end "
                    f"{litft_seconds:.1f} s, kept {kept_by_litft}. Naive rouge-score loop timed on the first "
                    f"{len(sample)} instructions reaching the ROUGE stage ({naive_sample_seconds:.1f} s, "
                    f"{sample_pairs} pairs, identical kept set: {sum(naive_mask)} of {len(sample)}) "
                    f"and extrapolated to the {full_pairs} pairs it would score on all {len(stage)}: "
                    f"{naive_seconds:.0f} s (estimate)."
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
