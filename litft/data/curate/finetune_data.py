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


def process_finetune_data(
    dir: Path,
    model: str | None = None,
    backend: Literal["openai", "heuristic"] = "openai",
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    template: str = "faq",
    workers: int = 4,
    max_requests: int | None = None,
    max_tokens: int | None = None,
    rouge_threshold: float = 0.7,
    test_fraction: float = 0.2,
    seed: int = 42,
    quiet: bool = False,
) -> None:
    """Make instruction data from DIR/chunks.jsonl: DIR/qa.jsonl, DIR/qa_filtered.jsonl, DIR/train.json, DIR/test.json.

    Args:
        dir: Directory holding chunks.jsonl (from `litft process`); outputs are written beside it.
        model: Model name the endpoint serves (openai backend).
        backend: ``openai`` (any OpenAI-compatible endpoint) or ``heuristic`` (offline, no key).
        base_url: Endpoint URL; default $OPENAI_BASE_URL, then OpenAI.
        api_key_env: Environment variable holding the API key (never written anywhere).
        template: ``faq``, ``triples`` or a text file with a {passage} placeholder.
        workers: Requests in flight at once.
        max_requests: Stop sending requests after this many.
        max_tokens: Stop before a request could take the total tokens in+out over this.
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
    synthesize(
        chunks,
        qa,
        model=model,
        backend=backend,
        base_url=base_url,
        api_key_env=api_key_env,
        template=template,
        workers=workers,
        max_requests=max_requests,
        max_tokens=max_tokens,
        quiet=quiet,
    )
    filter_records(qa, filtered, rouge_threshold=rouge_threshold, quiet=quiet)
    split(filtered, dir, test_fraction=test_fraction, seed=seed)
