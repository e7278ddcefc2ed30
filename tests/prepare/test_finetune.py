"""`litft prepare finetune`: record forms, prompt lengths, truncation counts, splits, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from litft.cli import main
from litft.common.errors import LitftError
from litft.models.prompts import get_prompt_style, load_prompt_style, render_prompt
from litft.models.tokenizer import load_tokenizer
from litft.prepare.finetune import prepare_finetune
from litft.prepare.format import read_meta
from tests.support.tiny_corpus import corpus_lines

LINES = corpus_lines(60, seed=3)


def _alpaca(count: int, start: int = 0) -> list[dict]:
    """Records as the synthesis stage writes them: Alpaca keys plus provenance keys."""
    return [
        {
            "instruction": LINES[i],
            "input": LINES[i + 1] if i % 2 else "",
            "output": LINES[i + 2],
            "source_id": f"c{i}",
            "source_url": "https://example.org",
            "model": "m",
            "template": "t",
        }
        for i in range(start, start + count)
    ]


def _read(out: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    return np.fromfile(out / f"{split}.bin", dtype=np.uint16), np.load(out / f"{split}.index.npy")


def test_tokens_and_prompt_lengths_are_exact(tokenizer_dir, tmp_path):
    records = _alpaca(20)
    (tmp_path / "train.json").write_text(json.dumps(records), encoding="utf-8")
    (tmp_path / "val.jsonl").write_text("\n".join(json.dumps(r) for r in _alpaca(5, start=30)) + "\n", encoding="utf-8")
    (tmp_path / "test.json").write_text(json.dumps(_alpaca(7, start=50)), encoding="utf-8")  # held out: never read
    splits = prepare_finetune(data=tmp_path, out=tmp_path / "out", checkpoint_dir=tokenizer_dir, quiet=True)["splits"]
    tokenizer, style = load_tokenizer(tokenizer_dir), get_prompt_style("alpaca")
    for split, expected_records in (("train", records), ("val", _alpaca(5, start=30))):
        tokens, index = _read(tmp_path / "out", split)
        assert len(index) == splits[split]["records"] == len(expected_records)
        for (offset, length, prompt_length), record in zip(index, expected_records, strict=True):
            prompt = tokenizer.encode(render_prompt(style, record["instruction"], record["input"])).tolist()
            response = tokenizer.encode(record["output"], bos=False, eos=True).tolist()
            assert tokens[offset : offset + length].tolist() == prompt + response
            assert prompt_length == len(prompt) and prompt[0] == tokenizer.bos_id
    meta = read_meta(tmp_path / "out", "finetune")
    assert (meta["prompt_style"], meta["mask_prompt"], meta["max_seq_length"]) == ("alpaca", True, None)
    assert meta["sources"]["val"].endswith("val.jsonl")
    assert type(load_prompt_style(tmp_path / "out")) is type(style)


def test_truncation_is_counted_never_dropped(tokenizer_dir, tmp_path):
    (tmp_path / "records.json").write_text(json.dumps(_alpaca(30)), encoding="utf-8")
    full = prepare_finetune(
        data=tmp_path / "records.json", out=tmp_path / "full", checkpoint_dir=tokenizer_dir, quiet=True
    )["splits"]
    _, full_index = _read(tmp_path / "full", "train")
    limit = int(np.median(full_index[:, 1]))
    cut = prepare_finetune(
        data=tmp_path / "records.json",
        out=tmp_path / "cut",
        checkpoint_dir=tokenizer_dir,
        max_seq_length=limit,
        quiet=True,
    )["splits"]
    tokens, index = _read(tmp_path / "cut", "train")
    assert cut["train"]["records"] == full["train"]["records"] == 30
    assert cut["train"]["truncated"] == int((full_index[:, 1] > limit).sum()) > 0
    assert cut["train"]["without_response_tokens"] == int((full_index[:, 2] >= limit).sum())
    assert index[:, 1].tolist() == np.minimum(full_index[:, 1], limit).tolist()
    assert index[:, 2].tolist() == np.minimum(full_index[:, 2], limit).tolist()
    assert cut["train"]["longest"] == limit and len(tokens) == index[:, 1].sum()


def test_qa_records_fields_mapping_and_seeded_val_split(tokenizer_dir, tmp_path):
    qa = [{"question": LINES[i], "answer": LINES[i + 1]} for i in range(10)]
    (tmp_path / "qa.jsonl").write_text("\n".join(json.dumps(r) for r in qa) + "\n", encoding="utf-8")
    splits = prepare_finetune(
        data=tmp_path / "qa.jsonl",
        out=tmp_path / "qa",
        checkpoint_dir=tokenizer_dir,
        prompt_style="qa",
        val_fraction=0.2,
        quiet=True,
    )["splits"]
    assert (splits["train"]["records"], splits["val"]["records"]) == (8, 2)
    assert read_meta(tmp_path / "qa")["fields"]["instruction"] == "question"

    custom = [{"prompt": LINES[i], "completion": LINES[i + 1]} for i in range(4)]
    (tmp_path / "custom.json").write_text(json.dumps(custom), encoding="utf-8")
    prepare_finetune(
        data=tmp_path / "custom.json",
        out=tmp_path / "custom",
        checkpoint_dir=tokenizer_dir,
        fields={"instruction": "prompt", "output": "completion"},
        mask_prompt=False,
        quiet=True,
    )
    tokens, index = _read(tmp_path / "custom", "train")
    tokenizer = load_tokenizer(tokenizer_dir)
    expected = (
        tokenizer.encode(render_prompt(get_prompt_style("alpaca"), LINES[0])).tolist()
        + tokenizer.encode(LINES[1], bos=False, eos=True).tolist()
    )
    assert tokens[: index[0, 1]].tolist() == expected
    assert read_meta(tmp_path / "custom")["mask_prompt"] is False


def _cli_error(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["prepare", "finetune", "--quiet", "true", *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_user_errors_exit_2_with_one_line_and_leave_no_output(tokenizer_dir, tmp_path, capsys):
    files = {
        "syntax.json": '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c" "output": "d"}\n]',
        "missing.json": json.dumps([{"instruction": "a", "output": "b"}, {"instruction": "c", "answer": "d"}]),
        "missing.jsonl": '{"instruction": "a", "output": "b"}\n\n{"instruction": "c"}\n',
        "empty.json": "[]",
        "notext.json": json.dumps([{"instruction": "a", "output": 3}]),
        "one.json": json.dumps([{"instruction": "a", "output": "b"}]),
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"instruction": "caf\xe9", "output": "b"}\n')
    out, tok = tmp_path / "out", ["--checkpoint_dir", str(tokenizer_dir)]
    expectations = {
        "syntax.json line 3 is not valid JSON": "syntax.json",
        "missing.json record 2 has no 'output' field": "missing.json",
        "missing.jsonl line 3 has no 'output' field": "missing.jsonl",
        "holds no records": "empty.json",
        "field 'output' is int, not text": "notext.json",
        "latin1.jsonl line 1 is not valid UTF-8": "latin1.jsonl",
    }
    for expected, name in expectations.items():
        assert expected in _cli_error(capsys, "--data", str(tmp_path / name), "--out", str(out), *tok)
    assert "--fields maps unknown role(s) ['question']" in _cli_error(
        capsys, "--data", str(tmp_path / "missing.json"), "--fields", '{"question": "q"}', "--out", str(out), *tok
    )
    one = ["--data", str(tmp_path / "one.json"), "--val_fraction", "0.5", "--out", str(out), *tok]
    assert "holds 1 record(s), too few to split by record; pass --val_fraction 0 or a --val_data file." in _cli_error(
        capsys, *one
    )
    assert "unknown prompt style" in _cli_error(
        capsys, "--data", str(tmp_path / "missing.json"), "--prompt_style", "nope", "--out", str(out), *tok
    )
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_fields_may_map_only_some_roles(tokenizer_dir, tmp_path):
    records = [{"instruction": LINES[i], "completion": LINES[i + 1]} for i in range(3)]
    (tmp_path / "some.json").write_text(json.dumps(records), encoding="utf-8")
    meta = prepare_finetune(
        data=tmp_path / "some.json",
        out=tmp_path / "out",
        checkpoint_dir=tokenizer_dir,
        fields={"output": "completion"},
        quiet=True,
    )
    assert meta["fields"] == {"instruction": "instruction", "input": "input", "output": "completion"}
    tokens, index = _read(tmp_path / "out", "train")
    tokenizer = load_tokenizer(tokenizer_dir)
    response = tokenizer.encode(LINES[1], bos=False, eos=True).tolist()
    assert tokens[index[0, 2] : index[0, 1]].tolist() == response
    (tmp_path / "other.json").write_text(json.dumps([{"prompt": "a", "completion": "b"}]), encoding="utf-8")
    with pytest.raises(LitftError, match="record 1 has no 'instruction' field"):  # named, not None
        prepare_finetune(
            data=tmp_path / "other.json",
            out=tmp_path / "o2",
            checkpoint_dir=tokenizer_dir,
            fields={"output": "completion"},
        )


def test_a_max_seq_length_that_leaves_no_answer_tokens_is_refused(tokenizer_dir, tmp_path, capsys):
    (tmp_path / "records.json").write_text(json.dumps(_alpaca(6)), encoding="utf-8")
    out, common = tmp_path / "out", ["--data", str(tmp_path / "records.json"), "--checkpoint_dir", str(tokenizer_dir)]
    error = _cli_error(capsys, *common, "--out", str(out), "--max_seq_length", "1")
    assert "--max_seq_length 1 must be at least 2: a record needs a prompt token and an answer token." in error
    shortest_prompt = min(
        len(
            load_tokenizer(tokenizer_dir).encode(
                render_prompt(get_prompt_style("alpaca"), r["instruction"], r["input"])
            )
        )
        for r in _alpaca(6)
    )
    error = _cli_error(capsys, *common, "--out", str(out), "--max_seq_length", str(shortest_prompt))
    assert f"--max_seq_length {shortest_prompt} cuts every train record before its answer" in error
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]

    meta = prepare_finetune(
        data=tmp_path / "records.json",
        out=out,
        checkpoint_dir=tokenizer_dir,
        max_seq_length=shortest_prompt + 1,
        quiet=True,
    )
    assert meta["splits"]["train"]["without_response_tokens"] < 6  # one record keeps an answer token: accepted
