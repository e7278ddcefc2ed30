"""Text litft did not write: JSON nested too deeply and strings that are not valid Unicode are one sentence
wherever they enter (files, HTTP replies, the command line), never a RecursionError or a tokenizer TypeError."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from litft.cli import main
from litft.common.errors import LitftError
from litft.common.outputs import read_marker
from litft.common.text import invalid_unicode_at, parse_json, parse_yaml
from litft.models.tokenizer import encode_batch, load_tokenizer

DEEP_JSON = "[" * 100_000 + "]" * 100_000
LONE = '{"instruction": "the fee is \\ud800 due", "output": "ok"}'


def test_parse_json_turns_deep_nesting_and_lone_surrogates_into_decode_errors():
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        parse_json(DEEP_JSON)
    with pytest.raises(json.JSONDecodeError, match=r"'\[1\].instruction' holds a lone surrogate") as error:
        parse_json('[\n{"output": "fine"},\n' + LONE + "]")
    assert error.value.lineno == 3
    # A valid surrogate pair (how ensure_ascii writes an emoji) and an escaped backslash are text like any other.
    assert parse_json('{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}') == {"a": "\U0001f600", "b": "\\ud800"}
    assert invalid_unicode_at({"messages": [{"content": "ok"}, {"content": "x\udc80"}]}) == "messages[1].content"
    assert invalid_unicode_at({"\ud800": 1}) == "\ud800"


def test_parse_yaml_turns_deep_nesting_into_a_yaml_error():
    import yaml

    with pytest.raises(yaml.YAMLError, match="nested too deeply"):
        parse_yaml("[" * 100_000)


def test_a_marker_nested_too_deeply_is_not_litfts(tmp_path):
    (tmp_path / ".litft.json").write_text(DEEP_JSON, encoding="utf-8")
    assert read_marker(tmp_path) is None


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("deep.json", DEEP_JSON, "deep.json line 1 is not valid JSON: it is nested too deeply"),
        ("deep.jsonl", '{"a": ' + DEEP_JSON + "}\n", "deep.jsonl line 1 is not valid"),
        ("lone.json", f"[{LONE}]", "lone.json line 1 is not valid JSON: field '[0].instruction' holds a lone"),
        ("lone.jsonl", LONE + "\n", "lone.jsonl line 1 is not valid UTF-8 JSON (field 'instruction' holds a lone"),
    ],
)
def test_prepare_finetune_names_the_record_that_cannot_be_read(name, content, fragment, tokenizer_dir, tmp_path):
    (tmp_path / name).write_text(content, encoding="utf-8")
    error = _cli_error(
        "prepare", "finetune", "--data", str(tmp_path / name), "--out", str(tmp_path / "out"),
        "--checkpoint_dir", str(tokenizer_dir),
    )  # fmt: skip
    assert fragment in error
    assert not (tmp_path / "out").exists()


def test_prepare_pretrain_names_the_jsonl_line_with_a_lone_surrogate(tokenizer_dir, tmp_path):
    (tmp_path / "docs.jsonl").write_text('{"text": "fine"}\n{"text": "bad \\udfff"}\n', encoding="utf-8")
    error = _cli_error(
        "prepare", "pretrain", "--data", str(tmp_path / "docs.jsonl"), "--out", str(tmp_path / "out"),
        "--checkpoint_dir", str(tokenizer_dir), "--val_fraction", "0",
    )  # fmt: skip
    assert "docs.jsonl line 2 is not valid JSON: field 'text' holds a lone surrogate" in error


def test_a_command_line_that_is_not_utf8_is_one_sentence(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "litft.cli", "index", "search", b"\xff\xfe.idx", "--query", "x"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in stderr, stderr
    assert stderr.startswith("error: the argument '\\udcff\\udcfe.idx' is not valid UTF-8 text")


def test_text_that_slips_past_the_readers_is_still_one_sentence_at_the_tokenizer(tokenizer_dir):
    with pytest.raises(LitftError, match="holds a lone surrogate"):
        encode_batch(load_tokenizer(tokenizer_dir), ["fine", "bad \ud800 text"])


def test_only_the_text_module_parses_json_or_yaml_that_litft_reads():
    """The class guard: a new reader that calls json.loads or yaml.safe_load directly would bring back the
    RecursionError and the lone surrogates. Allowed: judge.py parses a regex match that cannot nest, tokenizer.py
    what the tokenizers library serialized itself, the demo the report it just wrote."""
    allowed = {
        ("litft/common/text.py", "loads"),
        ("litft/common/text.py", "safe_load"),
        ("litft/evaluation/judge.py", "loads"),
        ("litft/models/tokenizer.py", "loads"),
        ("litft/demo/pipeline.py", "loads"),
    }
    root = Path(__file__).resolve().parents[2]
    found = set()
    for path in sorted((root / "litft").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("loads", "load", "safe_load"):
                owner = node.value.id if isinstance(node.value, ast.Name) else None
                if owner in ("json", "yaml"):
                    found.add((str(path.relative_to(root)), node.attr))
    assert found <= allowed, sorted(found - allowed)


def _cli_error(*args: str) -> str:
    import contextlib
    import io

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as exit_info:
        main(list(args))
    lines = stderr.getvalue().strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and "Traceback" not in lines[0], stderr.getvalue()
    return lines[0]
