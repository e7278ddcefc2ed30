"""`litft prepare preference`: preference records into the indexed binary format `litft finetune dpo|kto` reads.

Paired records (DPO, IPO) hold a prompt and two answers: `{instruction, input, chosen, rejected}`, or a conversation
(`messages` / `conversations`, ending with the user's turn) with `chosen` and `rejected` last assistant turns (a
string, or TRL's `[{"role": "assistant", "content": ...}]`). Unpaired records (KTO) hold one answer and whether it
is desirable: `{instruction, input, output, label}` (or a conversation with `output`). The prompt is rendered with
the prompt style and masked, exactly as `litft prepare finetune` does.

The files are `litft prepare finetune`'s (`{split}.bin`, `{split}.index.npy` rows `(offset, length, prompt_length)`),
kind `preference`: paired data stores each pair as two rows, chosen then rejected; unpaired data adds
`{split}.labels.npy` (1 = desirable). An answer longer than the room the prompt leaves is cut and counted; a prompt
that leaves no room, an empty answer and a pair whose answers are equal are refused, naming the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litft.common.errors import LitftError
from litft.common.settings import DEFAULT_PROMPT_STYLE
from litft.data.conversations import Message, is_conversation, read_conversation
from litft.data.tables import is_hub_id, read_table
from litft.prepare.finetune import MIN_SEQ_LENGTH, default_max_seq_length, find_inputs
from litft.prepare.format import staging_dir, tokenizer_meta, write_meta
from litft.prepare.pretrain import choose_validation, resolve_tokenizer_dir

LABELS = {"true": True, "false": False, "1": True, "0": False, "desirable": True, "undesirable": False}


@dataclass
class PreferenceRecord:
    """One record: its prompt ((instruction, input) or the conversation so far), its answers ((chosen, rejected), or
    (output,) with `desirable`), and where it came from, for errors."""

    prompt: tuple[str, str] | list[Message]
    answers: tuple[str, ...]
    where: str
    desirable: bool | None = None


def load_preference_records(
    path: Path | str, split: str | None = None, subset: str | None = None
) -> tuple[list[PreferenceRecord], bool]:
    """The records of any form `litft.data.tables` reads, and whether they are pairs (else KTO records)."""
    raw = read_table(path, split, subset)
    if not raw:
        raise LitftError(f"{path} holds no records; give a file with at least one preference record.")
    first = raw[0][1]
    paired = isinstance(first, dict) and "chosen" in first
    return [_record(record, f"{path} {where}", paired) for where, record in raw], paired


def _record(record: Any, where: str, paired: bool) -> PreferenceRecord:
    if not isinstance(record, dict):
        raise LitftError(f"{where} is not a JSON object; each record must be an {{...}} object.")
    keys = ("chosen", "rejected") if paired else ("output",)
    missing = [key for key in (*keys, *([] if paired else ["label"])) if key not in record]
    if missing:
        shape = "chosen and rejected" if paired else "output and label"
        raise LitftError(
            f"{where} has no {' or '.join(map(repr, missing))} field; every record of this file needs {shape} "
            "(the first record decides: chosen/rejected for DPO pairs, output/label for KTO)."
        )
    answers = tuple(_answer(record[key], f"{where} field {key!r}") for key in keys)
    if paired and answers[0] == answers[1]:
        raise LitftError(f"{where} has the same chosen and rejected answer, so it teaches no preference; drop it.")
    if is_conversation(record):
        prompt: tuple[str, str] | list[Message] = list(read_conversation(record, where, need_reply=False))
        if prompt[-1]["role"] != "user":
            raise LitftError(f"{where}: the conversation must end with the user's turn that the answers reply to.")
    else:
        instruction, input_ = record.get("instruction"), record.get("input") or ""
        if not isinstance(instruction, str) or not isinstance(input_, str):
            raise LitftError(f"{where} needs a text 'instruction' (and an optional text 'input') or 'messages'.")
        prompt = (instruction, input_)
    return PreferenceRecord(prompt, answers, where, None if paired else _label(record["label"], where))


def _answer(value: Any, where: str) -> str:
    if isinstance(value, list) and value and isinstance(value[-1], dict):  # TRL's conversational answer
        value = value[-1].get("content")
    if not isinstance(value, str):
        raise LitftError(f"{where} is {type(value).__name__}, not text; make it a string (or one assistant turn).")
    if not value.strip():
        raise LitftError(f"{where} is empty; every answer needs text.")
    return value


def _label(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, str)) and str(value).strip().lower() in LABELS:
        return LABELS[str(value).strip().lower()]
    raise LitftError(f"{where} has label {value!r}; it must be true (desirable) or false (undesirable).")


def prepare_preference(
    data: str | None = None,
    out: Path | None = None,
    val_data: str | None = None,
    checkpoint_dir: Path | None = None,
    tokenizer_dir: Path | None = None,
    prompt_style: str = DEFAULT_PROMPT_STYLE,
    split: str | None = None,
    subset: str | None = None,
    max_seq_length: int | None = None,
    val_fraction: float = 0.0,
    seed: int = 42,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Tokenize preference records (DPO pairs or KTO records) into train/val `.bin` + `.index.npy`, `meta.json`
    and `prompt_style.yaml`, for `litft finetune dpo|kto`.

    Args:
        data: Records: JSON/JSONL, CSV/TSV, Parquet, a `datasets.save_to_disk` folder, a Hub dataset
            `hf:owner/name`, or a folder with train.json(l) (and optionally val.json(l)). Pairs:
            {instruction, input, chosen, rejected} or a conversation (`messages`) with chosen/rejected answers;
            KTO: {instruction, input, output, label} (label true = desirable).
        out: Output directory; it appears only when complete.
        val_data: Validation records, in any of the forms of --data (default: the folder's val.json, else a
            --val_fraction split of the train records).
        checkpoint_dir: Checkpoint directory whose tokenizer (and block_size) to use.
        tokenizer_dir: Same as --checkpoint_dir (give one of the two).
        prompt_style: alpaca, qa, a litgpt prompt style name, or chat_template[:NAME] from the tokenizer.
        split: The split of a Hub or saved dataset (default: train).
        subset: The subset (configuration) of a Hub dataset.
        max_seq_length: Cut answers to fit this many tokens with their prompt (default: the checkpoint's
            block_size if it has a model_config.yaml, else no limit); cut answers are counted in meta.json.
        val_fraction: Fraction of records held out when no validation file is given.
        seed: Seed of that split.
        overwrite: Replace `out` if it exists.
        quiet: No summary.
    """
    train_path, val_path = find_inputs(data, val_data)
    tokenizer_path = resolve_tokenizer_dir(checkpoint_dir, tokenizer_dir)  # input paths first: litgpt loads torch
    from litft.models.prompts import get_prompt_style, save_prompt_style, style_name
    from litft.models.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_path)
    style = get_prompt_style(prompt_style, tokenizer_path)
    max_seq_length = max_seq_length if max_seq_length is not None else default_max_seq_length(tokenizer_path)
    if max_seq_length is not None and max_seq_length < MIN_SEQ_LENGTH:
        raise LitftError(f"--max_seq_length {max_seq_length} must be at least {MIN_SEQ_LENGTH}.")
    train_records, paired = load_preference_records(train_path, split, subset)
    train_records, val_records = _split_validation(train_records, paired, val_path, split, subset, val_fraction, seed)
    fields = tokenizer_meta(tokenizer, tokenizer_path)
    local_inputs = [Path(p) for p in (train_path, val_path) if p is not None and not is_hub_id(p)]
    with staging_dir(out, overwrite, inputs=(*local_inputs, tokenizer_path)) as staging:
        splits = {
            name: _write_split(tokenizer, style, records, max_seq_length, np.dtype(fields["dtype"]), staging, name)
            for name, records in (("train", train_records), ("val", val_records))
        }
        save_prompt_style(style, staging)
        meta = {
            "kind": "preference",
            "paired": paired,
            **fields,
            "prompt_style": style_name(style),
            "mask_prompt": True,
            "max_seq_length": max_seq_length,
            "splits": splits,
            "sources": {"train": str(train_path), "val": str(val_path) if val_path else None},
            "val_fraction": val_fraction if val_path is None else None,
            "seed": seed,
        }
        meta = write_meta(staging, meta)
    if not quiet:
        unit = "pairs" if paired else "records"
        train, val = splits["train"], splits["val"]
        print(
            f"wrote {train['records']:,} train and {val['records']:,} val {unit} "
            f"({train['tokens'] + val['tokens']:,} tokens, {train['truncated'] + val['truncated']} answers cut) "
            f"to {out}"
        )
    return meta


def _split_validation(
    records: list[PreferenceRecord],
    paired: bool,
    val_path: Path | str | None,
    split: str | None,
    subset: str | None,
    val_fraction: float,
    seed: int,
) -> tuple[list[PreferenceRecord], list[PreferenceRecord]]:
    if val_path is not None:
        val_records, val_paired = load_preference_records(val_path, split, subset)
        if val_paired != paired:
            raise LitftError(
                f"{val_path} holds {'pairs' if val_paired else 'KTO records'} but the training records are "
                f"{'pairs' if paired else 'KTO records'}; give validation records of the same kind."
            )
        return records, val_records
    is_val = choose_validation(len(records), val_fraction, seed, "record", "pass --val_fraction 0 or a --val_data file")
    train = [record for record, flag in zip(records, is_val, strict=True) if not flag]
    return train, [record for record, flag in zip(records, is_val, strict=True) if flag]


def _encode(tokenizer: Any, style: Any, records: list[PreferenceRecord]) -> list[tuple[list[int], list[list[int]]]]:
    """Each record's prompt ids and answer ids (EOS last), the prompt rendered as `litft prepare finetune` does."""
    from litft.models.conversations import conversation_segments, encode_segments
    from litft.models.prompts import render_prompt
    from litft.models.tokenizer import encode_batch

    encoded: list[tuple[list[int], list[list[int]]]] = []
    for record in records:
        if isinstance(record.prompt, list):  # the conversation with each answer as its last assistant turn
            segments = [
                conversation_segments(style, [*record.prompt, {"role": "assistant", "content": answer}], record.where)
                for answer in record.answers
            ]
            answers = []
            for pieces, parts in zip(encode_segments(tokenizer, segments), segments, strict=True):
                last = max(i for i, (_, trained, _) in enumerate(parts) if trained)
                prompt = [token for piece in pieces[:last] for token in piece]
                answers.append(pieces[last])
            encoded.append((prompt, answers))
        else:
            prompt = encode_batch(tokenizer, [render_prompt(style, *record.prompt)])[0]
            encoded.append((prompt, encode_batch(tokenizer, list(record.answers), bos=False, eos=True)))
    return encoded


def _write_split(
    tokenizer: Any,
    style: Any,
    records: list[PreferenceRecord],
    max_seq_length: int | None,
    dtype: np.dtype,
    directory: Path,
    split: str,
) -> dict[str, Any]:
    rows: list[tuple[list[int], list[int]]] = []
    truncated = 0
    for record, (prompt, answers) in zip(records, _encode(tokenizer, style, records), strict=True):
        if max_seq_length is not None and len(prompt) >= max_seq_length:
            raise LitftError(
                f"{record.where} has a prompt of {len(prompt)} tokens, which leaves no room for its answer in "
                f"--max_seq_length {max_seq_length}; shorten the prompt or raise --max_seq_length."
            )
        for answer in answers:
            room = None if max_seq_length is None else max_seq_length - len(prompt)
            truncated += room is not None and len(answer) > room
            rows.append((prompt, answer[:room]))
    index = np.zeros((len(rows), 3), dtype=np.int64)
    offset = 0
    for row, (prompt, answer) in enumerate(rows):
        index[row] = (offset, len(prompt) + len(answer), len(prompt))
        offset += len(prompt) + len(answer)
    tokens = np.fromiter((t for prompt, answer in rows for t in (*prompt, *answer)), dtype=dtype, count=offset)
    tokens.tofile(directory / f"{split}.bin")
    np.save(directory / f"{split}.index.npy", index)
    info = {
        "file": f"{split}.bin",
        "index": f"{split}.index.npy",
        "records": len(records),
        "rows": len(rows),
        "tokens": offset,
        "truncated": truncated,
        "longest": int(index[:, 1].max()) if len(rows) else 0,
    }
    if records and records[0].desirable is not None:
        labels = np.array([record.desirable for record in records], dtype=np.uint8)
        np.save(directory / f"{split}.labels.npy", labels)
        desirable = int(labels.sum())
        info |= {"labels": f"{split}.labels.npy", "desirable": desirable, "undesirable": len(labels) - desirable}
    return info
