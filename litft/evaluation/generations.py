"""`litft evaluate`'s generations/: each model's answers on disk, one JSON line per prompt, keyed by the model's
weights, the decoding settings and the prompt, so a re-run generates only what is missing and a kill loses at most
one batch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from litft.common.io import append_jsonl, iter_jsonl


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def weights_identity(info) -> list:
    """What changes when a checkpoint's weights change (path, size, modification time), base included."""
    from litft.models.checkpoint import inspect_checkpoint

    paths = [info.weights_path] + ([inspect_checkpoint(info.base_dir).weights_path] if info.base_dir else [])
    return [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]


class GenerationLog:
    """A model's answers on disk, one JSON line per prompt, keyed by model, settings and prompt."""

    def __init__(self, path: Path, model_key: str):
        self.path, self.model_key = path, model_key
        self.entries: dict[str, dict] = {}
        if path.exists():
            for entry in iter_jsonl(path, skip_torn_tail=True):
                if "key" in entry and "answer" in entry:
                    self.entries[entry["key"]] = entry

    def key(self, prompt: str) -> str:
        return fingerprint(self.model_key, prompt)

    def append(self, entries: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            for entry in entries:
                append_jsonl(fh, entry)
                self.entries[entry["key"]] = entry


def generate_missing(
    loaded,
    log: GenerationLog,
    prompts: list[str],
    keys: list[str],
    details: list[dict],
    settings,
    batch_size: int,
    quiet: bool,
) -> int:
    """Generate the answers `log` does not hold yet, appending each batch as it finishes (a kill loses at most one
    batch) with each prompt's `details`; returns how many prompts were answered from the log."""
    missing = sorted({i for i, key in enumerate(keys) if key not in log.entries})
    unique_missing = list({keys[i]: i for i in missing}.values())  # the same prompt twice is generated once
    if not unique_missing:
        return len(prompts)
    last = [loaded.timing.seconds]

    def save(batch: list[int], completions) -> None:
        seconds, last[0] = loaded.timing.seconds - last[0], loaded.timing.seconds
        tokens = sum(c.generated_tokens for c in completions) or 1
        log.append(
            [
                {
                    "key": keys[unique_missing[i]],
                    "answer": c.text,
                    "generated_tokens": c.generated_tokens,
                    "finish_reason": c.finish_reason,
                    "seconds": seconds * c.generated_tokens / tokens,
                    **details[unique_missing[i]],
                }
                for i, c in zip(batch, completions, strict=True)
            ]
        )

    loaded.complete([prompts[i] for i in unique_missing], settings, batch_size, quiet, on_batch=save)
    return len(prompts) - len(missing)
