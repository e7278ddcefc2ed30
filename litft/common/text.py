"""Text litft did not write: JSON nested too deeply to read, and strings that are not valid Unicode.

Python's json module raises RecursionError on a document nested a few thousand levels deep, which no reader's
syntax-error handling catches, and it turns a `\\ud800` escape without its partner into a lone surrogate: a str
that no encoder, file write or tokenizer accepts (tokenizers raises a bare TypeError). The same strings arrive
from a command line that is not valid UTF-8 (Python keeps the bad bytes as surrogates). Both are checked here,
once, where such text enters, so every reader can name the record or argument at fault in one sentence.

No torch import here: the data layer uses these too.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A high surrogate escape not followed by a low one, or a low one not preceded by a high one. An escaped
# backslash before `u` also matches, so a match only prompts the exact check of the parsed value.
_LONE_SURROGATE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def is_valid_unicode(text: str) -> bool:
    """True unless `text` holds a lone surrogate, which cannot be written as UTF-8 or tokenized."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def invalid_unicode_at(value: Any) -> str | None:
    """Where in a parsed JSON value (or any nest of dicts and lists) a string or key is not valid Unicode, e.g.
    `messages[1].content` ("" for the value itself); None when every string is valid."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # a loop, not recursion: the value may be nested as deep as json allowed
        where, item = stack.pop()
        if isinstance(item, str):
            if not is_valid_unicode(item):
                return where
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and not is_valid_unicode(key):
                    return name
                stack.append((name, child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{index}]", child) for index, child in reversed(list(enumerate(item))))
    return None


def describe_invalid_unicode(where: str) -> str:
    field = f"field {ascii(where)}" if where else "the text"
    return f"{field} holds a lone surrogate (a \\ud800-\\udfff escape or bytes that are not UTF-8), not valid Unicode"


def parse_json(text: str) -> Any:
    """json.loads for text litft did not write: a document nested too deeply, or holding a string that is not
    valid Unicode, raises json.JSONDecodeError (with the line of the first bad escape), so each reader's
    sentence for malformed JSON covers them too."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("it is nested too deeply to read", text, 0) from None
    escape = _LONE_SURROGATE_ESCAPE.search(text)
    if escape is not None and (where := invalid_unicode_at(value)) is not None:
        raise json.JSONDecodeError(describe_invalid_unicode(where), text, escape.start())
    return value


def parse_yaml(text: str) -> Any:
    """yaml.safe_load for files litft did not write: a document nested too deeply raises yaml.YAMLError (PyYAML
    raises RecursionError), so each reader's sentence for malformed YAML covers it."""
    import yaml

    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise yaml.YAMLError("it is nested too deeply to read") from None
