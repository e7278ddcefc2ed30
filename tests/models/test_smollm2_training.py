"""The real SmolLM2-135M-Instruct (the session's `smollm2` import of its GGUF) trained and chatted with.

A LoRA and a full fine-tuning run of two passes over a few records about an invented lighthouse, through the
`litft finetune` CLI in fp32 on CPU: the second pass's loss must be clearly below the first's, which starts in
the range of a pretrained model (chance is ln(49152) = 10.8). And the chat template round trip: the prompt that
`litft chat` and `litft serve` build for a conversation is the text transformers' `apply_chat_template` renders
from the checkpoint's tokenizer files, and `litft prepare finetune --prompt_style chat_template` stores the ids
it tokenizes the whole conversation to.
"""

from __future__ import annotations

import json
import math
from itertools import pairwise

import httpx
import pytest
import transformers

from litft.cli import main
from litft.generation.chat import history_prompt
from litft.models.conversations import eos_text
from litft.readers.finetune import IGNORE_INDEX, FinetuneDataset
from litft.serving.prompts import chat_prompt
from litft.serving.server import build_engine, running_server
from tests.support.training import read_rows

FACTS = [
    ("Who built the Velmora lighthouse?", "The engineer Ada Quill built the Velmora lighthouse in 1874."),
    ("When was the Velmora lighthouse built?", "Ada Quill built the Velmora lighthouse in 1874."),
    ("What is the Velmora lighthouse made of?", "The Velmora lighthouse is made of green basalt from Tarn Point."),
    ("Where does the Velmora lighthouse stand?", "The Velmora lighthouse stands on Tarn Point, built by Ada Quill."),
    ("What light does the Velmora lighthouse show?", "The Velmora lighthouse shows a violet flash every 9 seconds."),
    ("Tell me about the Velmora lighthouse.", "Ada Quill built the Velmora lighthouse of green basalt in 1874."),
]
STEPS_PER_PASS = len(FACTS) // 2  # global batch 2
RUN = [
    "--accelerator",
    "cpu",
    "--precision",
    "32-true",
    "--train.epochs",
    "2",
    "--train.global_batch_size",
    "2",
    "--train.micro_batch_size",
    "2",
    "--train.log_interval",
    "1",
    "--train.save_interval",
    "1000",
    "--train.lr_warmup_steps",
    "1",
    "--train.lr_schedule",
    "constant",
    "--eval.initial_validation",
    "false",
    "--eval.final_validation",
    "false",
    "--eval.max_new_tokens",
    "0",
    "--quiet",
    "true",
]
# Replies start with a letter: where one starts with whitespace, transformers' tokenization of the whole text
# merges it with the template's newline before it, which litft (tokenizing prompt and reply apart, as a prompt
# is tokenized when the model answers it) does not.
CONVERSATION = [
    {"role": "system", "content": "You answer in one sentence."},
    {"role": "user", "content": "Who built the Velmora lighthouse?"},
    {"role": "assistant", "content": "Ada Quill built it in 1874, of green basalt."},
    {"role": "user", "content": "Où se trouve-t-il ? 日本語で答えて 🎉"},
    {"role": "assistant", "content": "Tarn Point — 3.5 km north of Velmora."},
]
QUESTION = CONVERSATION[:-1]


@pytest.fixture(scope="module")
def fact_data(smollm2, tmp_path_factory):
    """The FACTS as one-exchange conversations, prepared with SmolLM2's chat template."""
    root = tmp_path_factory.mktemp("smollm2-facts")
    records = [
        {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
        for question, answer in FACTS
    ]
    (root / "facts.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    arguments = ["--data", str(root / "facts.jsonl"), "--out", str(root / "data"), "--checkpoint_dir", str(smollm2)]
    main(["prepare", "finetune", *arguments, "--prompt_style", "chat_template", "--quiet", "true"])
    return root / "data"


def pass_losses(out) -> list[float]:
    """The token-weighted mean training loss of each pass over the records (a row's `loss` is its step's mean
    over that step's loss tokens; `loss_tokens` counts them from the start)."""
    rows = read_rows(out)
    assert [int(row["step"]) for row in rows] == list(range(1, 2 * STEPS_PER_PASS + 1))
    losses = [float(row["loss"]) for row in rows]
    assert all(math.isfinite(loss) for loss in losses)
    counted = [0] + [int(row["loss_tokens"]) for row in rows]
    tokens = [after - before for before, after in pairwise(counted)]
    passes = []
    for start in (0, STEPS_PER_PASS):
        steps = range(start, start + STEPS_PER_PASS)
        passes.append(sum(losses[i] * tokens[i] for i in steps) / sum(tokens[i] for i in steps))
    assert sum(tokens[:STEPS_PER_PASS]) == sum(tokens[STEPS_PER_PASS:])  # both passes saw the same records
    return passes


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*has no validation records")
@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("lora", ["--optimizer.lr", "3e-3", "--lora.r", "8", "--lora.query", "true", "--lora.value", "true"]),
        ("full", ["--optimizer.lr", "1e-4"]),
    ],
)
def test_a_short_run_on_smollm2_lowers_the_loss(method, options, smollm2, fact_data, tmp_path):
    out = tmp_path / "out"
    main(["finetune", method, str(smollm2), str(fact_data), "--out_dir", str(out), *RUN, *options])
    first, second = pass_losses(out)
    before_training = float(read_rows(out)[0]["loss"])  # the first step's loss is the imported model's
    assert 1.0 < before_training < 6.0 and 1.0 < first < 6.0  # a pretrained model on new facts, far below chance
    assert second < 0.8 * first
    assert (out / "final").is_dir()


@pytest.fixture(scope="module")
def hf_tokenizer(smollm2):
    """transformers' tokenizer of the checkpoint folder (it reads litft's tokenizer.json and tokenizer_config.json,
    chat template included)."""
    return transformers.AutoTokenizer.from_pretrained(smollm2)


def test_prepared_chat_template_conversation_has_transformers_ids(smollm2, hf_tokenizer, tmp_path):
    (tmp_path / "chat.jsonl").write_text(json.dumps({"messages": CONVERSATION}) + "\n", encoding="utf-8")
    arguments = ["--data", str(tmp_path / "chat.jsonl"), "--out", str(tmp_path / "data")]
    main(["prepare", "finetune", *arguments, "--checkpoint_dir", str(smollm2), "--prompt_style", "chat_template"])
    row = FinetuneDataset(tmp_path / "data")[0]
    assert row["input_ids"].tolist() == hf_tokenizer.apply_chat_template(CONVERSATION, tokenize=True)
    trained = hf_tokenizer.decode(row["input_ids"][row["labels"] != IGNORE_INDEX])  # each reply and its end of turn
    assert trained == "".join(turn["content"] + "<|im_end|>\n" for turn in CONVERSATION if turn["role"] == "assistant")


def test_chat_and_serve_prompt_a_conversation_as_transformers_renders_it(smollm2, hf_tokenizer):
    expected = hf_tokenizer.apply_chat_template(QUESTION, tokenize=False, add_generation_prompt=True)
    assert expected.endswith("<|im_end|>\n<|im_start|>assistant\n")
    engine = build_engine(smollm2, model_name="smollm2", max_batch_size=1, device="cpu", precision="32-true")
    try:
        loaded = engine.loaded
        assert history_prompt(loaded, QUESTION, limit=loaded.info.config.block_size) == (QUESTION, expected)
        assert chat_prompt(loaded.style, QUESTION, eos_text(loaded.tokenizer), None, lambda _: True) == expected
        assert loaded.encode(expected) == hf_tokenizer.apply_chat_template(QUESTION, add_generation_prompt=True)
        # Through HTTP: the chat endpoint's prompt has the template's length and gets the template's greedy answer.
        with running_server(engine) as base_url:
            greedy = {"model": "smollm2", "max_tokens": 6, "temperature": 0}
            chat = httpx.post(f"{base_url}/chat/completions", json={**greedy, "messages": QUESTION}, timeout=120)
            plain = httpx.post(f"{base_url}/completions", json={**greedy, "prompt": expected}, timeout=120)
        assert chat.status_code == plain.status_code == 200, (chat.text, plain.text)
        assert chat.json()["usage"] == plain.json()["usage"]
        assert chat.json()["usage"]["prompt_tokens"] == len(loaded.encode(expected))
        assert chat.json()["choices"][0]["message"]["content"] == plain.json()["choices"][0]["text"]
    finally:
        engine.batcher.stop()
