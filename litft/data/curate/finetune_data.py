"""chunks.jsonl -> train.json and test.json in one step: synthesize, filter, split (scripts/process_finetune_data.py).

Each stage is its own command with more options (`litft synthesize|filter|split --help`); this runs them
with their defaults on one directory, writing qa.jsonl, qa_filtered.jsonl, train.json and test.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from litft.common.errors import LitftError
from litft.data.curate.filter import filter_records
from litft.data.curate.split import split
from litft.data.synthesize.qa import synthesize
from litft.llm.client import LLMSettings


def process_finetune_data(
    dir: Path,
    llm: LLMSettings = LLMSettings(),
    backend: Literal["openai", "heuristic"] = "openai",
    template: str = "faq",
    rouge_threshold: float = 0.7,
    test_fraction: float = 0.2,
    seed: int = 42,
    quiet: bool = False,
) -> None:
    """Make instruction data from DIR/chunks.jsonl: DIR/qa.jsonl, DIR/qa_filtered.jsonl, DIR/train.json, DIR/test.json.

    Args:
        dir: Directory holding chunks.jsonl (from `litft process`); outputs are written beside it.
        llm: The model and how to ask it (`--llm.model` is required with the openai backend).
        backend: ``openai`` (any OpenAI-compatible endpoint) or ``heuristic`` (offline, no key).
        template: ``faq``, ``triples`` or a text file with a {passage} placeholder.
        rouge_threshold: Drop questions whose ROUGE-L F-measure with an earlier kept one is above this.
        test_fraction: Share of records for test.json, split by source chunk.
        seed: Random seed of the split.
        quiet: No progress bars.
    """
    dir = Path(dir)
    chunks = dir / "chunks.jsonl"
    if not chunks.is_file():
        raise LitftError(f"{chunks} does not exist; run `litft process` first or point to the directory that holds it.")
    qa, filtered = dir / "qa.jsonl", dir / "qa_filtered.jsonl"
    synthesize(chunks, qa, llm=llm, backend=backend, template=template, quiet=quiet)
    filter_records(qa, filtered, rouge_threshold=rouge_threshold, quiet=quiet)
    split(filtered, dir, test_fraction=test_fraction, seed=seed)
