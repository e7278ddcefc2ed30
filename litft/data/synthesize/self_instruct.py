"""`litft self-instruct`: bootstrap new instructions and their instances from a seed task pool.

Rounds of `--llm.workers` instruction-generation requests run until `--num_instructions` new ones pass the
filters (length, blacklist, punctuation, "Write a program", ROUGE-L <= threshold against the whole
pool). Then each new instruction is classified (classification or not) and given instances, output-first
or input-first. Everything goes through the same client, cache and limits as `synthesize`.

A re-run reproduces the same prompts from the seed and the cached answers, so it sends only what the
cache lacks: the n-th identical prompt of a run reads the n-th cached answer for it.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from litft.common.errors import LitftError
from litft.common.io import progress
from litft.common.outputs import record_output_file
from litft.common.ratelimit import BudgetExhausted
from litft.data.curate.filter import DEFAULT_BLACKLIST, RecordRules
from litft.data.curate.rouge_dedup import (
    RougeLIndex,
    element_frequencies,
    make_tokenizer,
)
from litft.data.records import write_jsonl
from litft.data.synthesize.qa import check_paths, default_sidecar, read_chunks
from litft.data.synthesize.self_instruct_prompts import (
    SYSTEM_PROMPT,
    SeedTask,
    classification_prompt,
    instance_prompt,
    instruction_prompt,
    load_seed_tasks,
    parse_instances,
    parse_instructions,
    parse_is_classification,
)
from litft.llm.cache import ResponseCache, cache_key, text_sha256
from litft.llm.client import LLMClient, LLMSettings, RequestFailed

SEED_EXAMPLES_PER_PROMPT = 6
GENERATED_EXAMPLES_PER_PROMPT = 2
ROUNDS_WITHOUT_PROGRESS_BEFORE_STOP = 5
TEMPLATE_NAME = "self-instruct"


class _Asker:
    """Answers prompts from the cache or the endpoint; the n-th use of one prompt reads its n-th cached answer."""

    def __init__(self, client: LLMClient):
        self.client = client
        self._uses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.failures = 0
        self.first_failure = ""

    def key_for(self, stage: str, prompt: str) -> tuple[str, int]:
        """Claim the next use of `prompt` (call in a fixed order, e.g. before handing work to threads)."""
        key = cache_key(self.client.settings.model, f"{TEMPLATE_NAME}:{stage}", text_sha256(prompt))
        with self._lock:
            use = self._uses[key]
            self._uses[key] += 1
        return key, use

    def ask(self, key: str, use: int, prompt: str) -> dict | None:
        """The answer entry, or None when the request failed for good (counted)."""
        cached = self.client.cached(key)
        if use < len(cached):
            self.client.stats.add(cached_hits=1)
            return cached[use]
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        try:
            return self.client.complete(key, messages)
        except RequestFailed as error:
            with self._lock:
                self.failures += 1
                self.first_failure = self.first_failure or str(error)
            return None


@dataclass
class GenerationReport:
    rounds: int = 0
    candidates: int = 0
    stopped_because: str = ""


def _generate_instructions(
    asker: _Asker,
    seeds: list[SeedTask],
    chunk_texts: list[str],
    rules: RecordRules,
    threshold: float,
    num_instructions: int,
    workers: int,
    seed: int,
    quiet: bool,
    dropped: Counter[str],
) -> tuple[list[str], GenerationReport]:
    tokenize = make_tokenizer()
    seed_tokens = [tokenize(task.instruction) for task in seeds]
    # Token order for the ROUGE prefix index: frequencies in the seeds and chunks, fixed before any add.
    index = RougeLIndex(threshold, element_frequencies(seed_tokens + [tokenize(text) for text in chunk_texts]))
    for tokens in seed_tokens:
        index.add(tokens)
    rng = random.Random(seed)
    generated: list[str] = []
    report = GenerationReport()
    rounds_without_progress = 0
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        progress(total=num_instructions, quiet=quiet, desc="instructions") as bar,
    ):
        while len(generated) < num_instructions:
            report.rounds += 1
            jobs = []
            for _ in range(workers):
                examples = rng.sample(seeds, min(SEED_EXAMPLES_PER_PROMPT, len(seeds)))
                examples_text = [task.instruction for task in examples]
                examples_text += rng.sample(generated, min(GENERATED_EXAMPLES_PER_PROMPT, len(generated)))
                rng.shuffle(examples_text)
                prompt = instruction_prompt(examples_text, rng.choice(chunk_texts) if chunk_texts else None)
                jobs.append((*asker.key_for("instructions", prompt), prompt))
            try:
                answers = list(pool.map(lambda job: asker.ask(*job), jobs))
            except BudgetExhausted as error:
                report.stopped_because = str(error)
                break
            if all(answer is None for answer in answers):  # each of them already retried: the endpoint is not answering
                report.stopped_because = f"all {len(answers)} requests of round {report.rounds} failed"
                break
            before = len(generated)
            for answer in answers:
                if answer is None:
                    continue
                candidates = parse_instructions(answer["text"])
                if answer.get("finish_reason") == "length" and candidates:
                    candidates.pop()  # cut off mid-sentence by the token limit
                for instruction in candidates:
                    report.candidates += 1
                    reason = rules.instruction_reason(instruction)
                    tokens = tokenize(instruction)
                    if reason is None and index.exceeds(tokens):
                        reason = "rouge_similar"
                    if reason is not None:
                        dropped[reason] += 1
                        continue
                    index.add(tokens)
                    generated.append(instruction)
                    bar.update()
                    if len(generated) == num_instructions:
                        break
                if len(generated) == num_instructions:
                    break
            rounds_without_progress = 0 if len(generated) > before else rounds_without_progress + 1
            if rounds_without_progress >= ROUNDS_WITHOUT_PROGRESS_BEFORE_STOP:
                report.stopped_because = (
                    f"{ROUNDS_WITHOUT_PROGRESS_BEFORE_STOP} rounds in a row brought no new instruction"
                )
                break
    return generated, report


def _instances(
    asker: _Asker,
    instructions: list[str],
    seeds: list[SeedTask],
    workers: int,
    seed: int,
    max_instances: int,
    quiet: bool,
) -> tuple[list[tuple[str, bool, list[tuple[str, str]]]], str]:
    """(instruction, is_classification, instances) for each instruction reached before any budget cap."""

    def one(instruction: str) -> tuple[str, bool, list[tuple[str, str]]]:
        rng = random.Random(f"{seed}:{instruction}")  # few-shot choice independent of order and threads
        prompt = classification_prompt(instruction, seeds, rng)
        answer = asker.ask(*asker.key_for(f"classify:{instruction}", prompt), prompt)
        is_classification = answer is not None and parse_is_classification(answer["text"])
        prompt = instance_prompt(instruction, is_classification, seeds, rng)
        answer = asker.ask(*asker.key_for(f"instances:{instruction}", prompt), prompt)
        instances = parse_instances(answer["text"], is_classification)[:max_instances] if answer else []
        return instruction, is_classification, instances

    results, stopped_because = [], ""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, instruction) for instruction in instructions]
        for future in progress(futures, quiet=quiet, desc="instances"):
            try:
                results.append(future.result())
            except BudgetExhausted as error:
                stopped_because = str(error)
    return results, stopped_because


def self_instruct(
    seed_tasks: Path,
    output: Path,
    llm: LLMSettings = LLMSettings(),
    num_instructions: int = 100,
    chunks: Path | None = None,
    rouge_threshold: float = 0.7,
    max_instances: int = 3,
    seed: int = 42,
    cache: Path | None = None,
    quiet: bool = False,
    overwrite: bool = False,
) -> None:
    """Generate new instructions with instances from a seed task pool (Self-Instruct), as Alpaca-form JSONL.

    Args:
        seed_tasks: Seed pool, one {instruction, instances: [{input, output}], is_classification} per line.
        output: JSONL of {instruction, input, output, source_id, source_url, model, template, is_classification}.
        llm: The model and how to ask it (`--llm.model` is required; `--llm.workers` is also the prompts per
            generation round).
        num_instructions: New instructions to generate (the run may stop earlier at a budget cap).
        chunks: Optional chunks.jsonl; each generation prompt then shows one chunk so tasks fit the domain.
        rouge_threshold: A new instruction is kept only if its ROUGE-L F-measure with every pool instruction is at
            most this.
        max_instances: Instances kept per instruction.
        seed: Random seed for example sampling; with the cache, a re-run repeats the same prompts.
        cache: Response cache (JSONL); default OUTPUT_STEM.cache.jsonl beside the output.
        quiet: No progress bar.
        overwrite: Replace an --output file that litft did not write.
    """
    if num_instructions < 1 or max_instances < 1:
        raise LitftError("--num_instructions and --max_instances must be at least 1.")
    if not 0.0 <= rouge_threshold <= 1.0:
        raise LitftError("--rouge_threshold must be between 0 and 1.")
    output = Path(output)
    cache = Path(cache) if cache else default_sidecar(output, "cache")
    inputs = {"--seed_tasks": Path(seed_tasks)} | ({"--chunks": Path(chunks)} if chunks else {})
    check_paths(inputs, {"--output": output, "--cache": cache}, overwrite)
    seeds = load_seed_tasks(Path(seed_tasks))
    chunk_texts = [chunk["text"] for chunk in read_chunks(Path(chunks))] if chunks else []
    llm.validate()
    rules = RecordRules(min_instruction_words=4, max_instruction_words=150, blacklist=DEFAULT_BLACKLIST)
    dropped: Counter[str] = Counter()
    with ResponseCache(cache) as response_cache:
        client = LLMClient(llm, response_cache)
        asker = _Asker(client)
        instructions, report = _generate_instructions(
            asker, seeds, chunk_texts, rules, rouge_threshold, num_instructions, llm.workers, seed, quiet, dropped
        )
        tasks, instances_stopped_because = _instances(
            asker, instructions, seeds, llm.workers, seed, max_instances, quiet
        )

    records = []
    for number, (instruction, is_classification, instances) in enumerate(tasks):
        for input_text, output_text in instances:
            records.append(
                {
                    "instruction": instruction,
                    "input": input_text,
                    "output": output_text,
                    "source_id": f"self-instruct-{number}",
                    "source_url": "",
                    "model": llm.model,
                    "template": TEMPLATE_NAME,
                    "is_classification": is_classification,
                }
            )
    without_instances = sum(not instances for _, _, instances in tasks)
    lines = [
        f"self-instruct: {len(instructions)} new instructions ({sum(c for _, c, _ in tasks)} classification) "
        f"-> {len(records)} records" + (f" in {output}" if records else ""),
        f"  {report.rounds} rounds, {report.candidates} candidate instructions; dropped: "
        + (", ".join(f"{reason} {count}" for reason, count in dropped.most_common()) or "none"),
        f"  {client.stats.summary()}, failed requests {asker.failures}",
    ]
    if without_instances:
        lines.append(f"  {without_instances} instructions got no parsable instance")
    stopped_because = report.stopped_because or instances_stopped_because
    if not records:  # the output of an earlier run, if any, stays as it was
        print("\n".join(lines))
        raise LitftError(
            f"self-instruct wrote no records: {_why_no_records(stopped_because, instructions, asker)}; "
            f"run again once that is fixed (cached answers are reused)."
        )
    write_jsonl(output, records)
    record_output_file(output)
    if stopped_because:
        lines.append(f"  stopped early: {stopped_because}; run again to continue (cached answers are reused)")
    print("\n".join(lines))


def _why_no_records(stopped_because: str, instructions: list[str], asker: _Asker) -> str:
    cause = stopped_because or (
        "no instruction got a parsable instance" if instructions else "no generated instruction passed the filters"
    )
    return cause + (f" (the first failed request: {asker.first_failure})" if asker.failures else "")
