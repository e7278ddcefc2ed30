"""Reading instruction records for generation and evaluation: Alpaca or question/answer, JSON or JSONL (or
CSV/TSV, Parquet, a saved dataset or a Hub id `hf:owner/name`, read by litft.data.tables).

The split stage writes `test.json` as a JSON array of Alpaca records ({instruction, input, output});
synthesized files are JSONL, and hand-made sets often use {question, answer} (optionally `context`).
All become `Instruction(instruction, input, reference)`; anything else is a one-sentence user error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from litft.common.errors import LitftError
from litft.common.io import iter_jsonl, read_json
from litft.data.conversations import read_conversation
from litft.data.tables import is_hub_id, is_saved_dataset, read_json_records, read_table

# (prompt field, context field, reference field) for each accepted record form, first match wins.
FORMS = (("instruction", "input", "output"), ("question", "context", "answer"))
SOURCE_KEYS = ("source_id", "source_url")


@dataclass(frozen=True)
class Instruction:
    instruction: str
    input: str = ""
    reference: str | None = None
    # The chunk the record was made from and its page (`litft synthesize` writes both), for `evaluate --sample`'s
    # strata and the lineage evaluate reports per question.
    source_id: str | None = field(default=None, compare=False)
    source_url: str | None = field(default=None, compare=False)
    # False for a question the documents cannot answer (`synthesize --unanswerable`): abstaining is right.
    answerable: bool = field(default=True, compare=False)

    @property
    def question(self) -> str:
        """The text a reviewer reads: the instruction, then its input if there is one."""
        return f"{self.instruction}\n\n{self.input}" if self.input else self.instruction


def _load(path: Path) -> list:
    if is_hub_id(path) or is_saved_dataset(path) or path.suffix.lower() in (".csv", ".tsv", ".parquet"):
        return [record for _, record in read_table(path)]  # the forms of litft.data.tables
    if not path.is_file():
        raise LitftError(f"{path} does not exist or is not a file; check the path.")
    text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text:
        return []
    if path.suffix == ".jsonl":
        return list(iter_jsonl(path))
    if path.suffix == ".json" or text.startswith("["):
        return read_json_records(path)
    return list(iter_jsonl(path))


def read_instructions(path: str | Path, need_reference: bool) -> list[Instruction]:
    """All records of `path` as Instructions; with `need_reference`, each must carry a non-empty answer."""
    path = Path(path)
    records = _load(path)
    if not records:
        raise LitftError(
            f"{path} holds no records; give a JSON array or JSONL of "
            "{instruction, input, output} or {question, answer} records."
        )
    out = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise LitftError(f"{path} record {number} is not a JSON object; each record must be {{...}}.")
        form = next((f for f in FORMS if f[0] in record), None)
        if form is None:
            raise LitftError(
                f"{path} record {number} has neither an 'instruction' nor a 'question' field "
                f"(it has: {', '.join(sorted(record)) or 'nothing'})."
            )
        prompt_key, context_key, reference_key = form
        values = {}
        for key in (prompt_key, context_key, reference_key):
            value = record.get(key)
            if value is not None and not isinstance(value, str):
                raise LitftError(f"{path} record {number}: field {key!r} must be text, not {type(value).__name__}.")
            values[key] = value
        if not (values[prompt_key] or "").strip():
            raise LitftError(f"{path} record {number} has an empty {prompt_key!r}; remove the record or fill it in.")
        reference = values[reference_key]
        if need_reference and not (reference or "").strip():
            raise LitftError(
                f"{path} record {number} has no {reference_key!r} to score against; "
                "every test record needs a reference answer."
            )
        source_id, source_url = (record.get(key) if isinstance(record.get(key), str) else None for key in SOURCE_KEYS)
        answerable = record.get("answerable") is not False
        out.append(
            Instruction(values[prompt_key], values[context_key] or "", reference, source_id, source_url, answerable)
        )
    return out


def read_prompts(path: str | Path) -> list[Instruction]:
    """Prompts for `litft generate --prompts_file`: JSON/JSONL records, or a text file with one prompt per line."""
    path = Path(path)
    if path.suffix in (".json", ".jsonl"):
        return read_instructions(path, need_reference=False)
    if not path.is_file():
        raise LitftError(f"{path} does not exist or is not a file; check the path.")
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError:
        raise LitftError(f"{path} is not UTF-8 text; re-save it as UTF-8.") from None
    prompts = [Instruction(line) for line in lines if line]
    if not prompts:
        raise LitftError(f"{path} holds no prompts; write one prompt per line.")
    return prompts


def dumps_record(instruction: Instruction, **fields: object) -> str:
    return json.dumps(
        {"instruction": instruction.instruction, "input": instruction.input, **fields}, ensure_ascii=False
    )


def read_messages(path: str | Path) -> list[list[dict[str, str]]]:
    """Conversations for `litft generate --messages`: a {"messages": [...]} (or ShareGPT "conversations") object,
    a bare list of {role, content} turns, or a JSON list / JSONL of such records. Each must end with a user turn."""
    path = Path(path)
    if not path.is_file():
        raise LitftError(f"{path} does not exist or is not a file; check the path.")
    if path.suffix.lower() == ".json":
        data = read_json(path)
        if isinstance(data, dict):
            data = [data]
        if isinstance(data, list) and data and isinstance(data[0], dict) and "role" in data[0]:
            data = [{"messages": data}]  # one conversation written as its list of turns
        records = [(f"record {number}", record) for number, record in enumerate(data or [], start=1)]
    else:
        records = read_table(path)
    if not records:
        raise LitftError(f'{path} holds no conversation; give {{"messages": [{{"role": "user", ...}}]}}.')
    conversations = []
    for where, record in records:
        messages = read_conversation(record, f"{path} {where}", need_reply=False)
        if messages[-1]["role"] != "user":
            raise LitftError(
                f"{path} {where} ends with a {messages[-1]['role']} turn; end it with the user's turn to answer."
            )
        conversations.append(list(messages))
    return conversations
