"""`generate --rag` and `chat --rag`: each question asked with its retrieved chunks, in the layout RAFT training
records and `evaluate --rag` use."""

from __future__ import annotations

import json

import pytest

from litft.cli import run_function
from litft.common.settings import SamplingSettings
from litft.evaluation.evaluate import evaluate
from litft.generation.chat import chat_loop
from litft.generation.generate import LoadedModel, generate
from litft.generation.passages import PassageFinder
from litft.models.context import with_context
from litft.models.instructions import Instruction
from litft.models.prompts import get_prompt_style, render_prompt
from litft.retrieval.index import build_index

pytestmark = pytest.mark.usefixtures("one_thread")

CHUNKS = [
    {"id": "deadline", "url": "https://x.test/apply", "text": "The application deadline is March 1."},
    {"id": "programs", "url": "https://x.test/programs", "text": "Programs offered: civil, software."},
]
QUESTIONS = ["When is the application deadline?", "Which programs are offered?"]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("rag")
    (root / "chunks.jsonl").write_text("".join(json.dumps(chunk) + "\n" for chunk in CHUNKS))
    build_index(root / "chunks.jsonl", root / "index", quiet=True)
    return root / "index"


def test_generate_rag_prompts_carry_the_passages_and_answer_as_evaluate_does(lit_base, index, tmp_path):
    prompts_file, output = tmp_path / "prompts.txt", tmp_path / "answers.jsonl"
    prompts_file.write_text("\n".join(QUESTIONS) + "\n")
    sampling = SamplingSettings(temperature=0.0, max_new_tokens=6)
    completions = generate(
        lit_base,
        prompts_file=prompts_file,
        output=output,
        sampling=sampling,
        prompt_style="qa",
        device="cpu",
        quiet=True,
        rag=index,
        rag_k=1,
    )
    style = get_prompt_style("qa")
    for question, chunk, completion in zip(QUESTIONS, CHUNKS, completions, strict=True):
        hit = PassageFinder(index, 1).index.search(question, 1)
        asked = with_context(Instruction(question), hit, has_input_field=True)
        assert completion.prompt == render_prompt(style, asked.instruction, asked.input)
        assert f"Context:\n[1] {chunk['text']}" in completion.prompt
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["retrieved"] for line in written] == [["deadline"], ["programs"]]

    test_file = tmp_path / "test.json"
    test_file.write_text(json.dumps([{"instruction": q, "output": "x"} for q in QUESTIONS]))
    args = [str(test_file), "--runs=[]", "--base", str(lit_base), "--out_dir", str(tmp_path / "eval")]
    args += ["--prompt_style", "qa", "--sampling.max_new_tokens", "6", "--device", "cpu", "--quiet", "true"]
    run_function(evaluate, [*args, "--rag", str(index), "--rag_k", "1"])
    evaluated = [
        json.loads(line) for line in (tmp_path / "eval" / "generations" / "base+rag.jsonl").read_text().splitlines()
    ]
    by_prompt = {line["prompt"]: line["answer"] for line in evaluated}
    assert {c.prompt: c.text for c in completions} == by_prompt


def test_chat_rag_asks_each_message_with_its_passages_and_keeps_the_message_alone(lit_base, index):
    loaded = LoadedModel(lit_base, device="cpu", prompt_style="default")
    prompts, logged = [], []
    stream = loaded.stream

    def recording_stream(prompt, settings, write):
        prompts.append(prompt)
        return stream(prompt, settings, write)

    loaded.stream = recording_stream
    lines = iter(QUESTIONS)

    def read(_prompt):
        line = next(lines, None)
        if line is None:
            raise EOFError
        return line

    finder = PassageFinder(index, 1)
    replies = chat_loop(loaded, SamplingSettings(max_new_tokens=3), read, lambda _: None, logged.append, finder=finder)
    assert replies == 2
    assert prompts[0].startswith(f"Context:\n[1] {CHUNKS[0]['text']}\n\n{QUESTIONS[0]}")
    assert f"Context:\n[1] {CHUNKS[1]['text']}\n\n{QUESTIONS[1]}" in prompts[1]
    assert CHUNKS[0]["text"] not in prompts[1] and QUESTIONS[0] in prompts[1]  # history holds the message alone
    assert "sources: [1] https://x.test/apply" in logged


def test_a_bad_index_or_k_is_one_sentence_and_exit_2(lit_base, tmp_path, capsys):
    from litft.cli import main

    for extra, message in ((["--rag", str(tmp_path)], "is not a retrieval index"), (["--rag_k", "0"], "--rag_k")):
        with pytest.raises(SystemExit) as exit_info:
            main(["generate", "--checkpoint_dir", str(lit_base), "--prompt", "hi", *extra])
        assert exit_info.value.code == 2
        error = capsys.readouterr().err.strip()
        assert message in error and len(error.splitlines()) == 1
