"""The special tokens of a checkpoint's tokenizer, checked when a model enters litft (convert, download, import).

A tokenizer whose files get EOS wrong does not fail: it generates replies that never stop. (BOS needs no check
here: load_tokenizer settles it from add_bos_token or tokenizer.json's post-processor, and encode_batch adds it
once and keeps the text's own.) These checks look at the EOS litgpt's Tokenizer will read:

- no EOS, or an EOS that is the BOS token (transformers' GGUF conversion of SmolLM2 saves `<|im_start|>` as both):
  generation never stops;
- a chat template that ends each turn with a token other than EOS while generation_config.json lists that token
  as an EOS (Llama 3 Instruct's first release: `<|eot_id|>`): litft stops at EOS only.

Folders litft writes (gguf_to_lit, download) are repaired, with one sentence each; a user's own folder (hf_to_lit)
is refused with the sentence that says which value to set, since litft never edits files it did not write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litft.common.errors import LitftError
from litft.common.io import atomic_write_text
from litft.common.text import parse_json

TOKENIZER_CONFIG = "tokenizer_config.json"
GENERATION_CONFIG = "generation_config.json"


@dataclass(frozen=True)
class Fix:
    """One value of tokenizer_config.json to set, and why (a clause that completes "the tokenizer ...")."""

    problem: str
    key: str
    value: Any


def special_token_fixes(directory: Path) -> list[Fix]:
    """What tokenizer_config.json must change for litgpt to read the special tokens as the model uses them."""
    directory = Path(directory)
    processor = _processor(directory)
    if processor is None:
        return []
    config, generation = _read_json(directory / TOKENIZER_CONFIG), _read_json(directory / GENERATION_CONFIG)
    bos, eos = _special(config, generation, "bos", processor), _special(config, generation, "eos", processor)
    generation_eos = _ids(generation.get("eos_token_id"))
    end_of_turn = _end_of_turn(directory, processor)
    fixes = []
    if eos is None or eos == bos:
        what = "names no EOS token" if eos is None else f"uses {processor.id_to_token(eos)!r} as both BOS and EOS"
        candidates = ([end_of_turn] if end_of_turn is not None else []) + generation_eos
        replacement = next((token for token in candidates if token != bos), None)
        if replacement is None:
            raise LitftError(
                f"{directory / TOKENIZER_CONFIG} {what}, so generation would never stop; set its eos_token to the "
                "token that ends the model's replies."
            )
        fixes.append(Fix(f"{what}, so generation would never stop", "eos_token", processor.id_to_token(replacement)))
    elif end_of_turn is not None and end_of_turn != eos and end_of_turn in generation_eos:
        fixes.append(
            Fix(
                f"ends chat turns with {processor.id_to_token(end_of_turn)!r} (an EOS of generation_config.json) "
                f"but names {processor.id_to_token(eos)!r} as EOS, where litft stops",
                "eos_token",
                processor.id_to_token(end_of_turn),
            )
        )
    return fixes


def repair_special_tokens(directory: Path) -> list[str]:
    """Apply the fixes to a folder litft wrote; one sentence per fix, for the command to print."""
    directory = Path(directory)
    fixes = special_token_fixes(directory)
    if not fixes:
        return []
    config = _read_json(directory / TOKENIZER_CONFIG) or {"tokenizer_class": "PreTrainedTokenizerFast"}
    config.update({fix.key: fix.value for fix in fixes})
    atomic_write_text(directory / TOKENIZER_CONFIG, json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    generation_path = directory / GENERATION_CONFIG
    new_eos = next((fix.value for fix in fixes if fix.key == "eos_token"), None)
    if new_eos is not None and generation_path.is_file():  # transformers' generate stops at generation_config's
        generation = _read_json(generation_path)
        eos_id = _processor(directory).token_to_id(new_eos)
        if eos_id not in _ids(generation.get("eos_token_id")):
            generation["eos_token_id"] = eos_id
            atomic_write_text(generation_path, json.dumps(generation, indent=2) + "\n")
    return [f"The tokenizer {fix.problem}; litft set {fix.key} to {json.dumps(fix.value)}." for fix in fixes]


def refuse_special_token_problems(directory: Path) -> None:
    """Refuse a user's folder whose tokenizer needs a fix, naming the value to set (litft does not edit it)."""
    fixes = special_token_fixes(directory)
    if fixes:
        fix = fixes[0]
        raise LitftError(
            f'the tokenizer in {directory} {fix.problem}; set "{fix.key}": {json.dumps(fix.value)} in its '
            f"{TOKENIZER_CONFIG} and convert again."
        )


def _processor(directory: Path) -> Any:
    """The tokenizers.Tokenizer of tokenizer.json, or None (a SentencePiece model, or a file load_tokenizer
    refuses later with its own sentence)."""
    from tokenizers import Tokenizer

    path = directory / "tokenizer.json"
    if not path.is_file():
        return None
    try:
        return Tokenizer.from_file(str(path))
    except Exception:  # tokenizers raises a bare Exception for a damaged file
        return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        content = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # absent or damaged: load_tokenizer names a damaged file when the checkpoint is used
    return content if isinstance(content, dict) else {}


def _ids(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [item for item in values if isinstance(item, int) and not isinstance(item, bool)]


def _special(config: dict[str, Any], generation: dict[str, Any], kind: str, processor: Any) -> int | None:
    """The id litgpt's Tokenizer takes for BOS or EOS: tokenizer_config.json's token, else generation_config's id."""
    token = config.get(f"{kind}_token")
    token = token.get("content") if isinstance(token, dict) else token
    if isinstance(token, str):
        return processor.token_to_id(token)
    ids = _ids(generation.get(f"{kind}_token_id"))
    return ids[0] if ids else None


def _end_of_turn(directory: Path, processor: Any) -> int | None:
    """The special token the chat template writes right after an assistant reply (`<|im_end|>`, `<|eot_id|>`)."""
    from jinja2.exceptions import TemplateError

    from litft.models.prompts import get_prompt_style

    try:
        style = get_prompt_style("chat_template", directory)
        rendered = style.render_messages(
            [{"role": "user", "content": "PING"}, {"role": "assistant", "content": "PONG"}], False
        )
    except (LitftError, TemplateError, TypeError, ValueError, KeyError):
        return None  # no template, or one that refuses this conversation: nothing to compare
    after = rendered.partition("PONG")[2].lstrip()
    specials = [token.content for token in processor.get_added_tokens_decoder().values() if token.special]
    ending = max((token for token in specials if after.startswith(token)), key=len, default=None)
    return processor.token_to_id(ending) if ending is not None else None
