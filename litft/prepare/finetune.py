"""`litft prepare finetune`: instruction records into an indexed binary dataset.

Per split: `{split}.bin` holds every record's tokens back to back -- the prompt (rendered with the
prompt style, BOS per the tokenizer) then the response and EOS -- and `{split}.index.npy` an int64
array of rows `(offset, length, prompt_length)`. `meta.json` and `prompt_style.yaml` complete it.
Prompt and response are encoded separately, as litgpt's SFT data does, so the prompt length is exact.
Records longer than `max_seq_length` are truncated and counted, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from litft.common.errors import LitftError
from litft.common.io import iter_jsonl, read_json
from litft.common.settings import DEFAULT_PROMPT_STYLE
from litft.models.tokenizer import encode_batch, load_tokenizer
from litft.prepare.format import staging_dir, tokenizer_meta, write_meta
from litft.prepare.pretrain import choose_validation, resolve_tokenizer_dir

ALPACA_FIELDS = {"instruction": "instruction", "input": "input", "output": "output"}
QA_FIELDS = {"instruction": "question", "input": "context", "output": "answer"}
ROLES = ("instruction", "input", "output")
TRAIN_NAMES = ("train.json", "train.jsonl")
# test.json is held out for `litft evaluate`: validating on it would let it steer training choices.
VAL_NAMES = ("val.json", "val.jsonl")

Record = tuple[str, str, str]  # instruction, input, output
# The shortest record that trains: one prompt token and one answer token (the first token is never a target).
MIN_SEQ_LENGTH = 2


def load_records(path: Path, fields: dict[str, str] | None) -> tuple[list[Record], dict[str, str]]:
    """Read a JSON list or JSONL file and map each record's fields to (instruction, input, output)."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        raw = [(f"line {number}", record) for number, record in _numbered_jsonl(path)]
    else:
        data = read_json(path)
        if not isinstance(data, list):
            raise LitftError(f"{path} must hold a JSON list of records (or be a .jsonl file with one record per line).")
        raw = [(f"record {i + 1}", record) for i, record in enumerate(data)]
    if not raw:
        raise LitftError(f"{path} holds no records; give a file with at least one instruction record.")
    mapping = _field_mapping(raw[0][1], fields)
    records = [_record(record, mapping, path, where) for where, record in raw]
    return records, mapping


def _numbered_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) pairs: iter_jsonl skips blank lines, so their numbers come from a byte scan."""
    numbers = [i for i, line in enumerate(path.read_bytes().split(b"\n"), start=1) if line.strip()]
    return zip(numbers, iter_jsonl(path), strict=True)


def _field_mapping(first: Any, fields: dict[str, str] | None) -> dict[str, str]:
    if fields:
        unknown = set(fields) - set(ROLES)
        if unknown:
            raise LitftError(
                f"--fields maps unknown role(s) {sorted(unknown)}; the roles are instruction, input and output."
            )
        return {**ALPACA_FIELDS, **fields}  # unmapped roles keep their Alpaca names
    if isinstance(first, dict) and "question" in first and "instruction" not in first:
        return dict(QA_FIELDS)
    return dict(ALPACA_FIELDS)


def _record(record: Any, mapping: dict[str, str], path: Path, where: str) -> Record:
    if not isinstance(record, dict):
        raise LitftError(f"{path} {where} is not a JSON object; each record must be an {{...}} object.")
    values = []
    for role in ROLES:
        key = mapping.get(role)
        value = record.get(key) if key else None
        if value is None and role != "input":
            raise LitftError(
                f"{path} {where} has no {key!r} field (the {role}); map your field names with "
                f'--fields \'{{"instruction": ..., "output": ...}}\'.'
            )
        if value is not None and not isinstance(value, str):
            raise LitftError(f"{path} {where} field {key!r} is {type(value).__name__}, not text; make it a string.")
        values.append(value or "")
    return values[0], values[1], values[2]


def find_inputs(data: Path | None, val_data: Path | None) -> tuple[Path, Path | None]:
    """The train file and optional validation file: a folder's train.json(l) + val.json(l), or files as given."""
    if data is None:
        raise LitftError("no input given; pass --data with a JSON/JSONL file or a folder holding train.json.")
    data = Path(data)
    if data.is_dir():
        train = next((data / name for name in TRAIN_NAMES if (data / name).is_file()), None)
        if train is None:
            raise LitftError(
                f"folder {data} has no train.json or train.jsonl; pass the records file itself with --data."
            )
        if val_data is None:
            val_data = next((data / name for name in VAL_NAMES if (data / name).is_file()), None)
        return train, val_data
    if not data.is_file():
        raise LitftError(f"input {data} does not exist; check the path.")
    return data, Path(val_data) if val_data is not None else None


def default_max_seq_length(tokenizer_path: Path) -> int | None:
    """The checkpoint's block_size when it has a model_config.yaml; longer records could never be trained on."""
    config_path = tokenizer_path / "model_config.yaml"
    if not config_path.is_file():
        return None
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError):
        raise LitftError(
            f"{config_path} is not valid UTF-8 YAML; restore it from the checkpoint or pass --max_seq_length."
        ) from None
    block_size = config.get("block_size") if isinstance(config, dict) else None
    if block_size is not None and (not isinstance(block_size, int) or isinstance(block_size, bool)):
        raise LitftError(
            f"{config_path} sets block_size to {block_size!r}, not an integer; fix it or pass --max_seq_length."
        )
    return block_size


def prepare_finetune(
    data: Path | None = None,
    out: Path | None = None,
    val_data: Path | None = None,
    checkpoint_dir: Path | None = None,
    tokenizer_dir: Path | None = None,
    prompt_style: str = DEFAULT_PROMPT_STYLE,
    fields: dict[str, str] | None = None,
    max_seq_length: int | None = None,
    mask_prompt: bool = True,
    val_fraction: float = 0.0,
    seed: int = 42,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Tokenize instruction records into train/val `.bin` + `.index.npy`, `meta.json` and `prompt_style.yaml`.

    Args:
        data: A JSON list or JSONL file of records, or a folder with train.json(l) (and optionally val.json(l);
            its test.json is left for `litft evaluate`).
        out: Output directory; it appears only when complete.
        val_data: Validation records (default: the folder's val.json, else a --val_fraction split of the train records).
        checkpoint_dir: Checkpoint directory whose tokenizer (and block_size) to use.
        tokenizer_dir: Same as --checkpoint_dir (give one of the two).
        prompt_style: alpaca, qa, a litgpt prompt style name, or chat_template[:NAME] from the tokenizer.
        fields: Record keys for each role, e.g. '{"instruction": "prompt", "output": "completion"}'
            (default: instruction/input/output, or question/context/answer when records have "question").
        max_seq_length: Truncate longer records to this many tokens (default: the checkpoint's block_size if
            it has a model_config.yaml, else no limit). Truncated records are counted in meta.json.
        mask_prompt: Leave prompt tokens out of the loss (the reader can override it).
        val_fraction: Fraction of records held out when no validation file is given.
        seed: Seed of that split.
        overwrite: Replace `out` if it exists.
        quiet: No summary.
    """
    train_path, val_path = find_inputs(data, val_data)  # input paths first: litgpt (torch) is imported below
    tokenizer_path = resolve_tokenizer_dir(checkpoint_dir, tokenizer_dir)
    tokenizer = load_tokenizer(tokenizer_path)
    from litft.models.prompts import get_prompt_style, save_prompt_style, style_name

    style = get_prompt_style(prompt_style, tokenizer_path)
    if max_seq_length is None:
        max_seq_length = default_max_seq_length(tokenizer_path)
    if max_seq_length is not None and max_seq_length < MIN_SEQ_LENGTH:
        raise LitftError(
            f"--max_seq_length {max_seq_length} must be at least {MIN_SEQ_LENGTH}: "
            "a record needs a prompt token and an answer token."
        )
    train_records, mapping = load_records(train_path, fields)
    if val_path is not None:
        val_records, _ = load_records(val_path, fields)
    else:
        is_val = choose_validation(
            len(train_records), val_fraction, seed, "record", "pass --val_fraction 0 or a --val_data file"
        )
        val_records = [record for record, flag in zip(train_records, is_val, strict=True) if flag]
        train_records = [record for record, flag in zip(train_records, is_val, strict=True) if not flag]
    tokenizer_fields = tokenizer_meta(tokenizer, tokenizer_path)
    dtype = np.dtype(tokenizer_fields["dtype"])

    with staging_dir(out, overwrite, inputs=(train_path, val_path, tokenizer_path)) as staging:
        splits = {
            split: _write_split(tokenizer, style, records, max_seq_length, dtype, staging, split)
            for split, records in (("train", train_records), ("val", val_records))
        }
        save_prompt_style(style, staging)
        meta = {
            "kind": "finetune",
            **tokenizer_fields,
            "prompt_style": style_name(style),
            "mask_prompt": mask_prompt,
            "max_seq_length": max_seq_length,
            "fields": mapping,
            "splits": splits,
            "sources": {"train": str(train_path), "val": str(val_path) if val_path else None},
            "val_fraction": val_fraction if val_path is None else None,
            "seed": seed,
        }
        meta = write_meta(staging, meta)
    if not quiet:
        train, val = splits["train"], splits["val"]
        limit = (
            f"{train['truncated'] + val['truncated']} truncated to {max_seq_length}"
            if max_seq_length
            else "no length limit"
        )
        print(
            f"wrote {train['records']:,} train and {val['records']:,} val records "
            f"({train['tokens'] + val['tokens']:,} tokens, {limit}) to {out}"
        )
    return meta


def _write_split(
    tokenizer: Any,
    style: Any,
    records: list[Record],
    max_seq_length: int | None,
    dtype: np.dtype,
    directory: Path,
    split: str,
) -> dict[str, Any]:
    from litft.models.prompts import render_prompt

    prompts = encode_batch(tokenizer, [render_prompt(style, instruction, input) for instruction, input, _ in records])
    responses = encode_batch(tokenizer, [output for _, _, output in records], bos=False, eos=True)
    index = np.zeros((len(records), 3), dtype=np.int64)
    sequences = []
    truncated = prompt_only = 0
    offset = 0
    for row, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        sequence = prompt + response
        if max_seq_length is not None and len(sequence) > max_seq_length:
            truncated += 1
            sequence = sequence[:max_seq_length]
        prompt_length = min(len(prompt), len(sequence))
        prompt_only += prompt_length == len(sequence)
        index[row] = (offset, len(sequence), prompt_length)
        offset += len(sequence)
        sequences.append(sequence)
    if records and prompt_only == len(records):
        raise LitftError(
            f"--max_seq_length {max_seq_length} cuts every {split} record before its answer, "
            "so nothing would be learned; "
            f"give a larger --max_seq_length (the longest prompt has {max(len(prompt) for prompt in prompts)} tokens)."
        )
    tokens = np.fromiter((token for sequence in sequences for token in sequence), dtype=dtype, count=offset)
    tokens.tofile(directory / f"{split}.bin")
    np.save(directory / f"{split}.index.npy", index)
    return {
        "file": f"{split}.bin",
        "index": f"{split}.index.npy",
        "records": len(records),
        "tokens": offset,
        "truncated": truncated,
        "without_response_tokens": prompt_only,
        "longest": int(index[:, 1].max()) if len(records) else 0,
    }
