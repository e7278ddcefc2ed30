"""Getting records out of what a model actually answers.

Models asked for "a JSON array only" still wrap it in a ```json fence, add a sentence before or after,
wrap it in an object ({"pairs": [...]}), or emit objects one after another. `extract_json_array` accepts
all of those; what is not JSON at all raises `ResponseParseError` so the caller can ask again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

FENCED_BLOCK = re.compile(r"```[ \t]*[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


class ResponseParseError(ValueError):
    """The response holds no JSON array of objects."""


def _as_object_list(value: Any) -> list | None:
    """The list of objects in `value`: the value itself, the only list inside an object, or a lone object."""
    if isinstance(value, list):
        return value if any(isinstance(item, dict) for item in value) else None
    if isinstance(value, dict):
        lists = [item for item in value.values() if isinstance(item, list)]
        if len(lists) == 1:
            return lists[0]
        if lists == [] and value:
            return [value]  # a single record on its own
    return None


def _decode_at(text: str, start: int) -> tuple[Any, int] | None:
    try:
        return _DECODER.raw_decode(text, start)
    except json.JSONDecodeError:
        return None


def _scan(text: str) -> list | None:
    """The first JSON array starting at some '[' in `text`, else the run of objects starting at some '{'."""
    for match in re.finditer(r"\[", text):
        decoded = _decode_at(text, match.start())
        if decoded is not None and isinstance(decoded[0], list) and _as_object_list(decoded[0]):
            return decoded[0]
    for match in re.finditer(r"\{", text):
        decoded = _decode_at(text, match.start())
        if decoded is None or not isinstance(decoded[0], dict):
            continue
        objects, position = [], match.start()
        while decoded is not None and isinstance(decoded[0], dict):
            objects.append(decoded[0])
            position = decoded[1]
            position += len(text[position:]) - len(text[position:].lstrip(" \t\r\n,"))
            decoded = _decode_at(text, position)
        found = _as_object_list(objects[0]) if len(objects) == 1 else objects
        if found:
            return found
    return None


def extract_json_array(text: str) -> list:
    """The JSON array in a model's answer: bare, inside a fenced block, wrapped in an object, or amid prose."""
    stripped = text.strip()
    if not stripped:
        raise ResponseParseError("the response is empty")
    decoded = _decode_at(stripped, 0)
    if decoded is not None and not stripped[decoded[1] :].strip():
        found = _as_object_list(decoded[0])
        if found is not None:
            return found
    for block in FENCED_BLOCK.findall(stripped):
        decoded = _decode_at(block.strip(), 0)
        if decoded is not None:
            found = _as_object_list(decoded[0])
            if found is not None:
                return found
    found = _scan(stripped)
    if found is None:
        raise ResponseParseError("no JSON array of objects found in the response")
    return found


def _field(item: dict, *names: str) -> str | None:
    """The first of `names` present in `item`, as stripped text; numbers become text, other types None."""
    for name in names:
        if name in item:
            value = item[name]
            if isinstance(value, bool) or value is None:
                return None
            if isinstance(value, (int, float)):
                return str(value)
            return value.strip() if isinstance(value, str) else None
    return None


@dataclass
class ParsedRecords:
    records: list[dict[str, str]]
    dropped: int  # items without a usable instruction/question or output/answer


def to_instruction_records(items: list) -> ParsedRecords:
    """Alpaca-form {instruction, input, output} from question/answer or instruction/input/output objects."""
    records, dropped = [], 0
    for item in items:
        if not isinstance(item, dict):
            dropped += 1
            continue
        instruction = _field(item, "instruction", "question")
        output = _field(item, "output", "answer", "response")
        input_text = _field(item, "input", "context") or ""
        if not instruction or not output:
            dropped += 1
            continue
        records.append({"instruction": instruction, "input": input_text, "output": output})
    return ParsedRecords(records, dropped)
