"""Multi-turn records: the loss covers exactly the assistant turns (Llama-3- and ChatML-style templates built
here), truncation drops whole trailing turns, packed conversations stay apart, bad turns are one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import AddedToken, Tokenizer

from litft.cli import main
from litft.models.tokenizer import load_tokenizer
from litft.prepare.finetune import prepare_finetune
from litft.readers.finetune import IGNORE_INDEX, FinetuneDataset
from litft.readers.packing import PackedFinetuneDataset

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
END_OF_TURN = {"chatml": "<|im_end|>\n", "llama3": "<|eot_id|>"}
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]

CONVERSATIONS = [
    {
        "messages": [
            {"role": "system", "content": "You answer questions about the campus."},
            {"role": "user", "content": "Where is the library?"},
            {"role": "assistant", "content": "North of the main hall."},
            {"role": "user", "content": "When does it open?"},
            {"role": "assistant", "content": "At eight every weekday."},
        ]
    },
    {
        "conversations": [
            {"from": "human", "value": "Who teaches robotics?"},
            {"from": "gpt", "value": "Professor Marsh does."},
        ]
    },
]


def chat_checkpoint(tokenizer_dir: Path, directory: Path, template: str) -> Path:
    """The tiny tokenizer with the template's special tokens added and the template in its config."""
    directory.mkdir(parents=True)
    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIAL])
    tokenizer.save(str(directory / "tokenizer.json"))
    config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["chat_template"] = template
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return directory


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of ones."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


@pytest.mark.parametrize(("name", "template"), [("chatml", CHATML), ("llama3", LLAMA3)])
def test_the_loss_covers_exactly_the_assistant_turns(name, template, tokenizer_dir, tmp_path):
    checkpoint = chat_checkpoint(tokenizer_dir, tmp_path / "ckpt", template)
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CONVERSATIONS), encoding="utf-8")
    prepare_finetune(
        data=tmp_path / "chat.jsonl",
        out=tmp_path / "out",
        checkpoint_dir=checkpoint,
        prompt_style="chat_template",
        quiet=True,
    )
    tokenizer, dataset = load_tokenizer(checkpoint), FinetuneDataset(tmp_path / "out")
    replies = [["North of the main hall.", "At eight every weekday."], ["Professor Marsh does."]]
    for number, expected in enumerate(replies):
        item = dataset[number]
        trained = (item["labels"] != IGNORE_INDEX).numpy()
        spans = [item["input_ids"][start:end].tolist() for start, end in _runs(trained)]
        assert spans == [tokenizer.encode(reply + END_OF_TURN[name], bos=False).tolist() for reply in expected]
        assert tokenizer.processor.decode(spans[-1], skip_special_tokens=False) == expected[-1] + END_OF_TURN[name]
        assert torch.equal(item["labels"][trained], item["input_ids"][trained])
        assert item["input_ids"][0] == tokenizer.bos_id
    everything = FinetuneDataset(tmp_path / "out", mask_prompt=False)[0]
    assert (everything["labels"] != IGNORE_INDEX).all()


def test_truncation_drops_whole_trailing_turns_and_counts_them(tokenizer_dir, tmp_path):
    checkpoint = chat_checkpoint(tokenizer_dir, tmp_path / "ckpt", CHATML)
    (tmp_path / "chat.json").write_text(json.dumps(CONVERSATIONS[:1]), encoding="utf-8")
    common = {"data": tmp_path / "chat.json", "checkpoint_dir": checkpoint, "prompt_style": "chat_template"}
    full = prepare_finetune(out=tmp_path / "full", quiet=True, **common)["splits"]["train"]
    whole = FinetuneDataset(tmp_path / "full")[0]
    first_reply_end = _runs((whole["labels"] != IGNORE_INDEX).numpy())[0][1]
    cut = prepare_finetune(out=tmp_path / "cut", max_seq_length=full["tokens"] - 3, quiet=True, **common)
    split = cut["splits"]["train"]
    assert (split["truncated"], split["turns_cut"], split["tokens"]) == (1, 1, first_reply_end)
    kept = FinetuneDataset(tmp_path / "cut")[0]
    assert torch.equal(kept["labels"], whole["labels"][:first_reply_end])


def test_packed_conversations_keep_their_own_masks_and_positions(tokenizer_dir, tmp_path):
    checkpoint = chat_checkpoint(tokenizer_dir, tmp_path / "ckpt", CHATML)
    (tmp_path / "chat.json").write_text(json.dumps(CONVERSATIONS * 3), encoding="utf-8")
    prepare_finetune(
        data=tmp_path / "chat.json",
        out=tmp_path / "out",
        checkpoint_dir=checkpoint,
        prompt_style="chat_template",
        quiet=True,
    )
    dataset = FinetuneDataset(tmp_path / "out")
    packed = PackedFinetuneDataset(dataset, max_seq_length=int(dataset.lengths.sum()))
    assert len(packed) == 1
    row, start = packed[0], 0
    for segment, record in enumerate(packed.bins[0], start=1):
        item, length = dataset[record], int(dataset.lengths[record])
        part = slice(start, start + length)
        assert (row["segment_ids"][part] == segment).all()
        assert torch.equal(row["position_ids"][part], torch.arange(length))
        assert torch.equal(row["input_ids"][part], item["input_ids"])
        assert row["labels"][start] == IGNORE_INDEX
        assert torch.equal(row["labels"][part][1:], item["labels"][1:])
        start += length
    assert start == len(row["input_ids"])


@pytest.mark.parametrize(
    ("record", "style", "message"),
    [
        ({"messages": [{"role": "robot", "content": "hi"}]}, "alpaca", "line 2 turn 1 has unknown role 'robot'"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
            "alpaca",
            "line 2 has no assistant turn",
        ),
        (
            {
                "conversations": [
                    {"from": "gpt", "value": "a"},
                    {"from": "human", "value": "b"},
                    {"from": "gpt", "value": "c"},
                ]
            },
            "alpaca",
            "chat.jsonl line 2 turn 1 is assistant where user was expected",
        ),
    ],
)
def test_bad_turns_are_one_sentence_with_the_record_number(record, style, message, tokenizer_dir, tmp_path, capsys):
    (tmp_path / "chat.jsonl").write_text(
        json.dumps(CONVERSATIONS[1]) + "\n" + json.dumps(record) + "\n", encoding="utf-8"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["prepare", "finetune", "--data", str(tmp_path / "chat.jsonl"), "--out", str(tmp_path / "out")]
            + ["--checkpoint_dir", str(tokenizer_dir), "--prompt_style", style]
        )
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and message in error and len(error.splitlines()) == 1, error
    assert not (tmp_path / "out").exists()


def test_a_named_style_trains_each_reply_followed_by_eos(tokenizer_dir, tmp_path):
    (tmp_path / "chat.json").write_text(json.dumps(CONVERSATIONS[:1]), encoding="utf-8")
    prepare_finetune(data=tmp_path / "chat.json", out=tmp_path / "out", checkpoint_dir=tokenizer_dir, quiet=True)
    tokenizer = load_tokenizer(tokenizer_dir)
    item = FinetuneDataset(tmp_path / "out")[0]
    trained = (item["labels"] != IGNORE_INDEX).numpy()
    spans = [item["input_ids"][start:end].tolist() for start, end in _runs(trained)]
    replies = ["North of the main hall.", "At eight every weekday."]
    assert spans == [tokenizer.encode(reply, bos=False, eos=True).tolist() for reply in replies]


@pytest.mark.parametrize("mix", [None, [0.5, 0.5]])
def test_instruction_records_and_conversations_train_together(mix, tokenizer_dir, tmp_path):
    """The README's domain + general data recipe with a chat source: each record keeps the tokens and the trained
    tokens it gets when its own kind is prepared alone."""
    checkpoint = chat_checkpoint(tokenizer_dir, tmp_path / "ckpt", CHATML)
    instructions = [{"instruction": f"Where is room {n}?", "input": "", "output": f"Floor {n}."} for n in range(4)]
    (tmp_path / "domain.json").write_text(json.dumps(instructions), encoding="utf-8")
    (tmp_path / "general.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CONVERSATIONS * 2), encoding="utf-8")
    common = {"checkpoint_dir": checkpoint, "prompt_style": "chat_template", "quiet": True}
    alone = {}
    for name in ("domain.json", "general.jsonl"):
        prepare_finetune(data=tmp_path / name, out=tmp_path / f"alone-{name}", **common)
        dataset = FinetuneDataset(tmp_path / f"alone-{name}")
        alone |= {tuple(item["input_ids"].tolist()): item["labels"] for item in map(dataset.__getitem__, range(4))}
    sources = [str(tmp_path / "domain.json"), str(tmp_path / "general.jsonl")]
    meta = prepare_finetune(data=sources, out=tmp_path / "mixed", mix=mix, **common)
    mixed = FinetuneDataset(tmp_path / "mixed")
    assert meta["splits"]["train"]["records"] == len(mixed) == 8
    items = [mixed[row] for row in range(len(mixed))]
    assert {tuple(item["input_ids"].tolist()) for item in items} == set(alone)
    for item in items:
        assert torch.equal(item["labels"], alone[tuple(item["input_ids"].tolist())])
