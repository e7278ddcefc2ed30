"""The three Self-Instruct prompts (Wang et al. 2022) and the parsers for their answers.

1. instruction generation: 8 example tasks (6 seed, 2 generated) in a numbered list ending with "9.";
2. classification identification: few-shot yes/no, with examples taken from the seed pool's labels;
3. instance generation: output-first for classification tasks (a class label, then an input for it, so
   labels do not all come out the same) and input-first for the others.

The few-shot examples come from the seed tasks themselves, so a domain's own seed pool shapes them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from litft.common.errors import LitftError
from litft.data.records import read_records

INSTRUCTION_HEADER = "Come up with a series of tasks:"
CLASSIFICATION_HEADER = "Can the following task be regarded as a classification task with finite output labels?"
INPUT_FIRST_HEADER = (
    "Come up with examples for the following tasks. Try to generate multiple examples when possible. "
    "If the task doesn't require additional input, you can generate the output directly."
)
OUTPUT_FIRST_HEADER = (
    "Given the classification task definition and the class labels, generate an input that corresponds "
    "to each of the class labels. If the task doesn't require input, just generate possible class labels."
)
SYSTEM_PROMPT = "You help build diverse training tasks for an AI assistant. Follow the format of the examples exactly."
DOMAIN_EXCERPT_CHARACTERS = 1200
FEW_SHOT_EXAMPLES = 3


@dataclass(frozen=True)
class SeedTask:
    instruction: str
    instances: tuple[tuple[str, str], ...]  # (input, output)
    is_classification: bool


def load_seed_tasks(path: Path) -> list[SeedTask]:
    """Seed tasks in Self-Instruct's seed_tasks.jsonl form.

    Each has an instruction, instances [{input, output}] and is_classification.
    """
    tasks = []
    for number, record in read_records(
        path, ("instruction",), "seed task ({instruction, instances, is_classification})"
    ):
        instances = record.get("instances", [])
        if not isinstance(instances, list) or not all(
            isinstance(i, dict) and isinstance(i.get("input", ""), str) and isinstance(i.get("output"), str)
            for i in instances
        ):
            raise LitftError(
                f"{path} line {number}: 'instances' must be a list of {{input, output}} objects with text values."
            )
        tasks.append(
            SeedTask(
                " ".join(record["instruction"].split()),
                tuple((i.get("input", "").strip(), i["output"].strip()) for i in instances),
                bool(record.get("is_classification", False)),
            )
        )
    return tasks


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(":")


def instruction_prompt(examples: list[str], domain_excerpt: str | None) -> str:
    """The numbered list of example tasks, open at the next number for the model to continue."""
    lines = [INSTRUCTION_HEADER]
    if domain_excerpt:
        lines += [
            "The new tasks should be about the subject of the following text, without referring to the text itself:",
            f'"""\n{domain_excerpt[:DOMAIN_EXCERPT_CHARACTERS]}\n"""',
            "",
        ]
    lines += [f"{number}. {_one_line(example)}" for number, example in enumerate(examples, start=1)]
    lines.append(f"{len(examples) + 1}.")
    return "\n".join(lines)


_NUMBERED_ITEM = re.compile(r"^\s*(?:task\s*)?\d+\s*[.:)]\s*", re.IGNORECASE | re.MULTILINE)


def parse_instructions(response: str) -> list[str]:
    """The tasks of a numbered-list answer; text before the first number continues the open item."""
    pieces = _NUMBERED_ITEM.split(response)
    instructions = []
    for position, piece in enumerate(pieces):
        if position == 0 and ("\n" in piece.strip() or piece.strip().endswith(":")):
            continue  # a preamble ("Sure, here are more tasks:"), not the continuation of the open item
        text = _one_line(piece)
        if text:
            instructions.append(text)
    return instructions


def classification_prompt(instruction: str, seeds: list[SeedTask], rng: random.Random) -> str:
    positives = [s for s in seeds if s.is_classification]
    negatives = [s for s in seeds if not s.is_classification]
    examples = rng.sample(positives, min(2, len(positives))) + rng.sample(negatives, min(2, len(negatives)))
    rng.shuffle(examples)
    lines = [CLASSIFICATION_HEADER, ""]
    for seed in examples:
        lines += [f"Task: {seed.instruction}", f"Is it classification? {'Yes' if seed.is_classification else 'No'}", ""]
    lines += [f"Task: {instruction}", "Is it classification?"]
    return "\n".join(lines)


def parse_is_classification(response: str) -> bool:
    words = re.findall(r"[a-z]+", response.lower())
    return bool(words) and words[0] == "yes"


def instance_prompt(instruction: str, is_classification: bool, seeds: list[SeedTask], rng: random.Random) -> str:
    """Output-first few-shot prompt for classification tasks, input-first for the rest."""
    pool = [s for s in seeds if s.is_classification == is_classification and s.instances] or [
        s for s in seeds if s.instances
    ]
    examples = rng.sample(pool, min(FEW_SHOT_EXAMPLES, len(pool)))
    lines = [OUTPUT_FIRST_HEADER if is_classification else INPUT_FIRST_HEADER, ""]
    for seed in examples:
        lines.append(f"Task: {seed.instruction}")
        if is_classification:
            for input_text, output in seed.instances:
                lines += [f"Class label: {output}", f"Input: {input_text}"]
        else:
            for number, (input_text, output) in enumerate(seed.instances, start=1):
                lines += [f"Example {number}", f"Input: {input_text}", f"Output: {output}"]
        lines.append("")
    lines.append(f"Task: {instruction}")
    if is_classification:
        lines.append("Class label:")
    return "\n".join(lines)


def _after(label: str, text: str) -> str:
    return text.split(label, 1)[1].strip() if label in text else ""


def parse_instances(response: str, is_classification: bool) -> list[tuple[str, str]]:
    """(input, output) pairs from an instance-generation answer."""
    text = response.strip()
    instances = []
    if is_classification:
        for block in re.split(r"^\s*Class label:", text, flags=re.MULTILINE)[1:]:
            label, _, rest = block.strip().partition("\n")
            input_text = _after("Input:", rest)
            if label.strip():
                instances.append((input_text, label.strip()))
        if not instances and text and "Input:" not in text:
            instances.append(("", text.splitlines()[0].strip()))  # "generate possible class labels" only
        return instances
    blocks = re.split(r"^\s*Example\s*\d+\s*:?\s*$", text, flags=re.MULTILINE | re.IGNORECASE)
    blocks = [block for block in blocks if block.strip()] if len(blocks) > 1 else [text]
    for block in blocks:
        if "Output:" in block:
            head, _, output = block.partition("Output:")
            input_text = _after("Input:", head)
        else:
            input_text, output = "", block  # a task without input: the whole answer is its output
        if output.strip():
            instances.append((input_text.strip(), output.strip()))
    return instances
