"""`litft prepare finetune`: instruction records into an indexed binary dataset.

Per split: `{split}.bin` holds every record's tokens back to back -- the prompt (rendered with the
prompt style, BOS per the tokenizer) then the response and EOS -- and `{split}.index.npy` an int64
array of rows `(offset, length, prompt_length)`. `meta.json` and `prompt_style.yaml` complete it.
Prompt and response are encoded separately, as litgpt's SFT data does, so the prompt length is exact.
Records longer than `max_seq_length` are truncated and counted, never dropped.

Multi-turn records (`messages` / `conversations`) are rendered with the prompt style (a chat template or a
named style) and split into pieces; `{split}.mask.bin` (one uint8 per token, 1 = trained) then marks the
assistant turns, and truncation drops whole trailing turns where it can (counted as `turns_cut`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from litft.common.errors import LitftError
from litft.common.settings import DEFAULT_PROMPT_STYLE
from litft.common.text import parse_yaml
from litft.data.conversations import Message, is_conversation, read_conversation
from litft.data.tables import is_hub_id, is_saved_dataset, read_table
from litft.models.tokenizer import encode_batch, load_tokenizer
from litft.prepare.format import staging_dir, tokenizer_meta, write_meta
from litft.prepare.mixture import check_mix, choose_mixture
from litft.prepare.pretrain import choose_validation, resolve_tokenizer_dir
from litft.prepare.raft import RaftSettings, with_raft_context

ALPACA_FIELDS = {"instruction": "instruction", "input": "input", "output": "output"}
QA_FIELDS = {"instruction": "question", "input": "context", "output": "answer"}
ROLES = ("instruction", "input", "output")
TRAIN_NAMES = ("train.json", "train.jsonl")
# test.json is held out for `litft evaluate`: validating on it would let it steer training choices.
VAL_NAMES = ("val.json", "val.jsonl")


class Record(tuple):
    """(instruction, input, output) of a single-turn record; `source_id` names the chunk it was made from, when the
    record says (`litft synthesize` does), for RAFT context (`--rag`)."""

    source_id: str | None

    def __new__(cls, instruction: str, input: str, output: str, source_id: str | None = None) -> Record:
        record = super().__new__(cls, (instruction, input, output))
        record.source_id = source_id
        return record


Example = Record | list[Message]  # a single-turn record or a conversation
# The shortest record that trains: one prompt token and one answer token (the first token is never a target).
MIN_SEQ_LENGTH = 2


def load_records(
    path: Path | str, fields: dict[str, str] | str | None, split: str | None = None, subset: str | None = None
) -> tuple[list[Example], dict[str, str]]:
    """Read records in any form `litft.data.tables` reads and map each to (instruction, input, output), or,
    for `messages` / `conversations` records, to a list of turns."""
    raw = read_table(path, split, subset)
    if not raw:
        raise LitftError(f"{path} holds no records; give a file with at least one instruction record.")
    fields = parse_fields(fields)
    if is_conversation(raw[0][1]) and not fields:
        return [read_conversation(record, f"{path} {where}") for where, record in raw], {"messages": "messages"}
    mapping = _field_mapping(raw[0][1], fields)
    records = [_record(record, mapping, path, where) for where, record in raw]
    return records, mapping


def parse_fields(fields: dict[str, str] | str | None) -> dict[str, str] | None:
    """`--fields instruction=Input,output=Output` (or a JSON object, which jsonargparse hands over as a dict)."""
    if fields is None or isinstance(fields, dict):
        return fields or None
    pairs = [pair.partition("=") for pair in fields.split(",") if pair.strip()]
    if not pairs or any(not sep or not role.strip() or not key.strip() for role, sep, key in pairs):
        raise LitftError(
            f"--fields {fields!r} must read role=column[,role=column], e.g. instruction=Input,output=Output."
        )
    return {role.strip(): key.strip() for role, _, key in pairs}


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
                f"{path} {where} has no {key!r} field (the {role}; it has {', '.join(map(str, record)) or 'none'}); "
                "map your field names with --fields instruction=COLUMN,output=COLUMN."
            )
        if value is not None and not isinstance(value, str):
            raise LitftError(f"{path} {where} field {key!r} is {type(value).__name__}, not text; make it a string.")
        values.append(value or "")
    source_id = record.get("source_id")
    return Record(values[0], values[1], values[2], source_id if isinstance(source_id, str) else None)


def find_inputs(data: Path | str | None, val_data: Path | str | None) -> tuple[Path | str, Path | str | None]:
    """The train input and optional validation input: a folder's train.json(l) + val.json(l), a Hub id or a saved
    dataset folder, or files as given."""
    if data is None:
        raise LitftError("no input given; pass --data with a JSON/JSONL file or a folder holding train.json.")
    if is_hub_id(data):
        return str(data), val_data
    data = Path(data)
    if is_saved_dataset(data):
        return data, val_data
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
    return data, val_data


def default_max_seq_length(tokenizer_path: Path) -> int | None:
    """The checkpoint's block_size when it has a model_config.yaml; longer records could never be trained on."""
    config_path = tokenizer_path / "model_config.yaml"
    if not config_path.is_file():
        return None
    try:
        config = parse_yaml(config_path.read_text(encoding="utf-8")) or {}
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
    data: list[str] | str | None = None,
    out: Path | None = None,
    val_data: str | None = None,
    checkpoint_dir: Path | None = None,
    tokenizer_dir: Path | None = None,
    prompt_style: str = DEFAULT_PROMPT_STYLE,
    fields: dict[str, str] | str | None = None,
    split: str | None = None,
    subset: str | None = None,
    mix: list[float] | None = None,
    max_seq_length: int | None = None,
    mask_prompt: bool = True,
    val_fraction: float = 0.0,
    seed: int = 42,
    rag: Path | None = None,
    rag_k: int = 3,
    distractors_only: float = 0.2,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Tokenize instruction records or conversations into train/val `.bin` + `.index.npy`, `meta.json` and
    `prompt_style.yaml`.

    Args:
        data: Records: JSON/JSONL, CSV/TSV, Parquet, a `datasets.save_to_disk` folder, a Hub dataset
            `hf:owner/name`, or a folder with train.json(l) (and optionally val.json(l); its test.json is left
            for `litft evaluate`). Several sources (`--data A B`) are concatenated, or mixed with --mix.
        out: Output directory; it appears only when complete.
        val_data: Validation records, in any of the forms of --data (default: the folder's val.json, else a
            --val_fraction split of the train records).
        checkpoint_dir: Checkpoint directory whose tokenizer (and block_size) to use.
        tokenizer_dir: Same as --checkpoint_dir (give one of the two).
        prompt_style: alpaca, qa, a litgpt prompt style name, or chat_template[:NAME] from the tokenizer.
        fields: Record keys (columns) for each role: instruction=Input,output=Output, or a JSON object
            (default: instruction/input/output, or question/context/answer when records have "question").
        split: The split of a Hub or saved dataset (default: train).
        subset: The subset (configuration) of a Hub dataset.
        mix: Proportions of the --data sources, e.g. --mix 0.8 0.2: seeded samples, the scarcest source whole.
        max_seq_length: Truncate longer records to this many tokens (default: the checkpoint's block_size if
            it has a model_config.yaml, else no limit). Truncated records are counted in meta.json;
            conversations lose whole trailing turns where they can.
        mask_prompt: Leave prompt tokens (in conversations: all but the assistant turns) out of the loss.
        val_fraction: Fraction of records held out when no validation file is given.
        seed: Seed of that split, of the mixture and of the RAFT context.
        rag: A retrieval index (`litft index build`): RAFT-style training data, each single-turn record's prompt
            carrying --rag_k retrieved chunks (its source chunk, named by the record's source_id, among the
            best-ranked other chunks at a random position) in the layout `evaluate --rag` and `generate --rag`
            use, so the model learns to answer from context and to ignore passages that do not help.
        rag_k: Passages per record with --rag.
        distractors_only: With --rag, the fraction of records whose passages leave their source chunk out.
        overwrite: Replace `out` if it exists.
        quiet: No summary.
    """
    entries = [data] if isinstance(data, (str, Path)) or data is None else list(data)
    inputs = [find_inputs(entry, val_data if len(entries) == 1 else None) for entry in entries or [None]]
    val_path = val_data if len(entries) > 1 else inputs[0][1]  # with several sources, only --val_data validates
    proportions = check_mix(len(inputs), mix)
    raft = RaftSettings(rag, rag_k, distractors_only, seed).checked() if rag is not None else None
    tokenizer_path = resolve_tokenizer_dir(checkpoint_dir, tokenizer_dir)  # input paths first: litgpt loads torch
    tokenizer = load_tokenizer(tokenizer_path)
    from litft.models.prompts import get_prompt_style, save_prompt_style, style_name

    style = get_prompt_style(prompt_style, tokenizer_path)
    max_seq_length = _check_max_seq_length(max_seq_length, tokenizer_path)
    train_records, mapping, mixture = _read_train(inputs, fields, split, subset, proportions, seed)
    train_records, val_records = _split_validation(train_records, val_path, fields, split, subset, val_fraction, seed)
    train_records, val_records, context = with_raft_context(train_records, val_records, raft, style)
    tokenizer_fields = tokenizer_meta(tokenizer, tokenizer_path)
    dtype = np.dtype(tokenizer_fields["dtype"])
    local_inputs = [Path(p) for p in [*(train for train, _ in inputs), val_path] if p is not None and not is_hub_id(p)]

    with staging_dir(out, overwrite, inputs=(*local_inputs, tokenizer_path)) as staging:
        splits = {
            name: _write_split(tokenizer, style, records, max_seq_length, dtype, staging, name)
            for name, records in (("train", train_records), ("val", val_records))
        }
        save_prompt_style(style, staging)
        sources = [str(train) for train, _ in inputs]
        meta = {
            "kind": "finetune",
            **tokenizer_fields,
            "prompt_style": style_name(style),
            "mask_prompt": mask_prompt,
            "max_seq_length": max_seq_length,
            "fields": mapping,
            "splits": splits,
            "sources": {
                "train": sources[0] if len(sources) == 1 else sources,
                "val": str(val_path) if val_path else None,
            },
            "mixture": mixture,
            "rag": context,
            "val_fraction": val_fraction if val_path is None else None,
            "seed": seed,
        }
        meta = write_meta(staging, meta)
    if not quiet:
        _print_summary(splits, max_seq_length, out)
    return meta


def _check_max_seq_length(max_seq_length: int | None, tokenizer_path: Path) -> int | None:
    if max_seq_length is None:
        max_seq_length = default_max_seq_length(tokenizer_path)
    if max_seq_length is not None and max_seq_length < MIN_SEQ_LENGTH:
        raise LitftError(
            f"--max_seq_length {max_seq_length} must be at least {MIN_SEQ_LENGTH}: "
            "a record needs a prompt token and an answer token."
        )
    return max_seq_length


def _read_train(
    inputs: list[tuple[Path | str, Any]],
    fields: dict[str, str] | str | None,
    split: str | None,
    subset: str | None,
    proportions: list[float] | None,
    seed: int,
) -> tuple[list[Example], dict[str, str], list[dict[str, Any]] | None]:
    """The train records of every source: concatenated, or sampled into the --mix proportions (then shuffled)."""
    loaded = [load_records(train, fields, split, subset) for train, _ in inputs]
    mapping = {key: value for _, source_mapping in loaded for key, value in source_mapping.items()}
    if proportions is None:
        return [record for records, _ in loaded for record in records], mapping, None
    chosen = choose_mixture([len(records) for records, _ in loaded], proportions, seed)
    mixed = [records[i] for (records, _), indices in zip(loaded, chosen, strict=True) for i in indices.tolist()]
    order = np.random.default_rng(seed).permutation(len(mixed))
    mixture = [
        {"source": str(train), "proportion": share, "available": len(records), "used": len(indices)}
        for (train, _), (records, _), share, indices in zip(inputs, loaded, proportions, chosen, strict=True)
    ]
    return [mixed[i] for i in order.tolist()], mapping, mixture


def _split_validation(
    train_records: list[Example],
    val_path: Path | str | None,
    fields: dict[str, str] | str | None,
    split: str | None,
    subset: str | None,
    val_fraction: float,
    seed: int,
) -> tuple[list[Example], list[Example]]:
    """Train and validation records: the validation input's, or a seeded --val_fraction of the train records."""
    if val_path is not None:
        return train_records, load_records(val_path, fields, split, subset)[0]
    is_val = choose_validation(
        len(train_records), val_fraction, seed, "record", "pass --val_fraction 0 or a --val_data file"
    )
    val_records = [record for record, flag in zip(train_records, is_val, strict=True) if flag]
    return [record for record, flag in zip(train_records, is_val, strict=True) if not flag], val_records


def _print_summary(splits: dict[str, dict[str, Any]], max_seq_length: int | None, out: Path | None) -> None:
    train, val = splits["train"], splits["val"]
    if max_seq_length:
        limit = f"{train['truncated'] + val['truncated']} truncated to {max_seq_length}"
        if (turns := train.get("turns_cut", 0) + val.get("turns_cut", 0)) or "turns_cut" in train:
            limit += f", {turns} assistant turn(s) cut"
    else:
        limit = "no length limit"
    print(
        f"wrote {train['records']:,} train and {val['records']:,} val records "
        f"({train['tokens'] + val['tokens']:,} tokens, {limit}) to {out}"
    )


def _pieces(
    tokenizer: Any, style: Any, records: list[Example], split: str
) -> tuple[list[list[list[int]]], list[list[bool]]]:
    """Each record's token pieces and which of them are trained: (prompt, response) for a single-turn record, its
    turns for a conversation. The two kinds may share a split (domain records beside general chat data)."""
    from litft.models.conversations import conversation_segments, encode_segments
    from litft.models.prompts import render_prompt

    pieces: list[list[list[int]]] = [[] for _ in records]
    trained: list[list[bool]] = [[] for _ in records]
    conversations = [row for row, record in enumerate(records) if isinstance(record, list)]
    if conversations:
        segments = [
            conversation_segments(style, records[row], getattr(records[row], "where", f"{split} record {row + 1}"))
            for row in conversations
        ]
        for row, encoded, parts in zip(conversations, encode_segments(tokenizer, segments), segments, strict=True):
            pieces[row], trained[row] = encoded, [flag for _, flag, _ in parts]
    singles = [row for row, record in enumerate(records) if not isinstance(record, list)]
    if singles:
        prompts = encode_batch(tokenizer, [render_prompt(style, *records[row][:2]) for row in singles])
        responses = encode_batch(tokenizer, [records[row][2] for row in singles], bos=False, eos=True)
        for row, prompt, response in zip(singles, prompts, responses, strict=True):
            pieces[row], trained[row] = [prompt, response], [False, True]
    return pieces, trained


def _write_split(
    tokenizer: Any,
    style: Any,
    records: list[Example],
    max_seq_length: int | None,
    dtype: np.dtype,
    directory: Path,
    split: str,
) -> dict[str, Any]:
    from litft.models.conversations import fit_whole_turns

    conversations = any(isinstance(record, list) for record in records)
    pieces, trained = _pieces(tokenizer, style, records, split)
    index = np.zeros((len(records), 3), dtype=np.int64)
    sequences, masks = [], []
    truncated = prompt_only = turns_cut = 0
    offset = 0
    for row, (parts, flags) in enumerate(zip(pieces, trained, strict=True)):
        if max_seq_length is not None and sum(map(len, parts)) > max_seq_length:
            truncated += 1
            is_conversation = isinstance(records[row], list)
            parts, cut = (
                fit_whole_turns(parts, flags, max_seq_length) if is_conversation else _cut(parts, max_seq_length)
            )
            turns_cut += cut
        sequence = [token for part in parts for token in part]
        mask = [flag for part, flag in zip(parts, flags, strict=False) for _ in part]  # fewer parts once cut
        prompt_length = next((i for i, flag in enumerate(mask) if flag), len(sequence))
        prompt_only += prompt_length == len(sequence)
        index[row] = (offset, len(sequence), prompt_length)
        offset += len(sequence)
        sequences.append(sequence)
        masks.append(mask)
    if records and prompt_only == len(records):
        longest = max(len(parts[0]) for parts in pieces)
        raise LitftError(
            f"--max_seq_length {max_seq_length} cuts every {split} record before its answer, "
            "so nothing would be learned; "
            f"give a larger --max_seq_length (the longest prompt has {longest} tokens)."
        )
    tokens = np.fromiter((token for sequence in sequences for token in sequence), dtype=dtype, count=offset)
    tokens.tofile(directory / f"{split}.bin")
    np.save(directory / f"{split}.index.npy", index)
    info = {
        "file": f"{split}.bin",
        "index": f"{split}.index.npy",
        "records": len(records),
        "tokens": offset,
        "truncated": truncated,
        "without_response_tokens": prompt_only,
        "longest": int(index[:, 1].max()) if len(records) else 0,
    }
    if conversations:
        np.fromiter((flag for mask in masks for flag in mask), dtype=np.uint8, count=offset).tofile(
            directory / f"{split}.mask.bin"
        )
        info |= {"mask": f"{split}.mask.bin", "turns_cut": turns_cut}
    return info


def _cut(parts: list[list[int]], limit: int) -> tuple[list[list[int]], int]:
    """Right truncation of a single-turn record: the prompt first, then as much of the response as fits."""
    prompt, response = parts
    return [prompt[:limit], response[: max(0, limit - len(prompt))]], 0
