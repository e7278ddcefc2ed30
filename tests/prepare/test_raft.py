"""RAFT-style context of `prepare finetune --rag`: the source chunk among hard distractors, or distractors alone."""

from __future__ import annotations

import json

import pytest

from litft.common.errors import LitftError
from litft.prepare.raft import RaftSettings, raft_passages
from litft.retrieval.index import build_index

TOPICS = ["deadline", "tuition", "campus", "programs", "housing", "library", "sports", "research"]
CHUNKS = [
    {"id": topic, "url": f"https://x.test/{topic}", "text": f"The {topic} page says {topic} facts."} for topic in TOPICS
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("raft")
    chunks = root / "chunks.jsonl"
    chunks.write_text("".join(json.dumps(chunk) + "\n" for chunk in CHUNKS))
    build_index(chunks, root / "index", quiet=True)
    return root / "index"


def test_each_record_gets_k_passages_its_source_among_distractors(index):
    questions = [f"What does the {topic} page say about {topic}?" for topic in TOPICS]
    passages, described = raft_passages(questions, TOPICS, RaftSettings(index, k=3, distractors_only=0.0))
    assert described["records"] == {"with_source": len(TOPICS)}
    for topic, chosen in zip(TOPICS, passages, strict=True):
        ids = [hit.id for hit in chosen]
        assert len(ids) == 3 and len(set(ids)) == 3
        assert ids.count(topic) == 1
    positions = {[hit.id for hit in chosen].index(topic) for topic, chosen in zip(TOPICS, passages, strict=True)}
    assert len(positions) > 1  # the source is not always first: position carries no answer


def test_distractors_only_fraction_is_seeded_and_leaves_the_source_out(index):
    questions = [f"What does the {topic} page say?" for topic in TOPICS] * 25
    sources = TOPICS * 25
    settings = RaftSettings(index, k=2, distractors_only=0.2, seed=7)
    passages, described = raft_passages(questions, sources, settings)
    without = [i for i, chosen in enumerate(passages) if sources[i] not in [hit.id for hit in chosen]]
    assert described["records"] == {"distractors_only": len(without), "with_source": 200 - len(without)}
    assert 25 <= len(without) <= 55  # 20% of 200, within sampling noise
    assert all(len(chosen) == 2 for chosen in passages)
    again, _ = raft_passages(questions, sources, settings)
    assert again == passages
    other, _ = raft_passages(questions, sources, RaftSettings(index, k=2, distractors_only=0.2, seed=8))
    assert other != passages


def test_records_without_a_known_source_get_what_inference_retrieves(index):
    questions = ["What about the library?", "What about the campus?"]
    passages, described = raft_passages(questions, [None, "gone"], RaftSettings(index, k=2))
    assert described["records"] == {"source_not_in_index": 1, "without_source_id": 1}
    assert [hit.id for hit in passages[0]][0] == "library"
    assert [hit.id for hit in passages[1]][0] == "campus"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(k=0), "--rag_k must be at least 1"),
        (dict(distractors_only=1.5), "--distractors_only must lie between 0 and 1"),
    ],
)
def test_bad_settings_are_one_sentence(index, settings, message):
    with pytest.raises(LitftError, match=message):
        RaftSettings(index, **settings).checked()


def test_a_folder_that_is_no_index_is_refused(tmp_path):
    with pytest.raises(LitftError, match="is not a retrieval index"):
        RaftSettings(tmp_path).checked()


def test_prepare_finetune_rag_puts_the_passages_in_each_prompt_as_evaluate_does(index, tokenizer_dir, tmp_path):
    import numpy as np

    from litft.models.context import with_context
    from litft.models.instructions import Instruction
    from litft.models.prompts import get_prompt_style, render_prompt
    from litft.models.tokenizer import load_tokenizer
    from litft.prepare.finetune import prepare_finetune

    records = [
        {
            "instruction": f"What does the {topic} page say?",
            "input": "",
            "output": f"{topic} facts.",
            "source_id": topic,
        }
        for topic in TOPICS
    ]
    (tmp_path / "train.json").write_text(json.dumps(records))
    settings = RaftSettings(index, k=2, distractors_only=0.25, seed=3)
    meta = prepare_finetune(
        data=tmp_path / "train.json",
        out=tmp_path / "out",
        checkpoint_dir=tokenizer_dir,
        rag=index,
        rag_k=2,
        distractors_only=0.25,
        seed=3,
        quiet=True,
    )
    passages, described = raft_passages([r["instruction"] for r in records], TOPICS, settings)
    assert meta["rag"] == described and sum(described["records"].values()) == len(TOPICS)
    tokenizer, style = load_tokenizer(tokenizer_dir), get_prompt_style("alpaca")
    tokens = np.fromfile(tmp_path / "out" / "train.bin", dtype=np.uint16)
    index_rows = np.load(tmp_path / "out" / "train.index.npy")
    for (offset, _, prompt_length), record, chosen in zip(index_rows, records, passages, strict=True):
        prompt = with_context(Instruction(record["instruction"]), chosen, has_input_field=True)
        assert prompt.input.startswith("Context:\n[1] ")
        expected = tokenizer.encode(render_prompt(style, prompt.instruction, prompt.input)).tolist()
        assert tokens[offset : offset + prompt_length].tolist() == expected


def test_prepare_finetune_rag_refuses_a_bad_index_before_writing(tokenizer_dir, tmp_path, capsys):
    from litft.cli import main

    (tmp_path / "train.json").write_text(json.dumps([{"instruction": "q", "output": "a"}]))
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["prepare", "finetune", "--data", str(tmp_path / "train.json"), "--out", str(tmp_path / "out")]
            + ["--checkpoint_dir", str(tokenizer_dir), "--rag", str(tmp_path), "--rag_k", "2"]
        )
    assert exit_info.value.code == 2
    assert "is not a retrieval index" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
