"""Generation: KV-cache greedy == no-cache greedy == transformers, exact batching, sampling, stops, runs, chat."""

from __future__ import annotations

import io
import json

import pytest
import torch
from litgpt.generate.base import sample_top_p

from litft.cli import main, run_function
from litft.common.errors import LitftError
from litft.generation.chat import chat_loop
from litft.generation.generate import LoadedModel, generate
from litft.generation.sampling import (
    RowDecoder,
    Sampler,
    SamplingSettings,
    decode_batch,
    filter_logits,
    plan_batches,
)
from litft.models.build import AdapterV2Settings, LoRASettings, build_model
from litft.models.checkpoint import inspect_checkpoint, save_checkpoint
from litft.models.conversations import conversation_prompt, eos_text
from litft.models.convert import convert_lit_checkpoint
from litft.models.merge import merge_lora
from litft.models.prompts import save_prompt_style

PROMPTS = [
    "the school offers",
    "tuition scholarship campus research labs students apply before",
    "apply",
    "mechanical civil electrical and software engineering",
    "faculty research",
    "the deadline",
]
GREEDY = SamplingSettings(max_new_tokens=24)


pytestmark = pytest.mark.usefixtures("one_thread")


def no_cache_greedy(model, ids: list[int], steps: int) -> list[int]:
    """The reference: the whole sequence through the model at every step, no KV cache."""
    sequence = list(ids)
    with torch.no_grad():
        for _ in range(steps):
            logits = model(torch.tensor([sequence]))
            sequence.append(int(logits[0, -1].argmax()))
    return sequence[len(ids) :]


@pytest.fixture(scope="module")
def base(lit_base):
    loaded = LoadedModel(lit_base, device="cpu", prompt_style="default")
    loaded.stop_tokens = []  # fixed-length outputs for comparisons
    return loaded


def test_greedy_with_cache_equals_without_cache_and_transformers(base, lit_base, tmp_path):
    import transformers

    export = tmp_path / "hf"
    convert_lit_checkpoint(lit_base, export)
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(export, dtype=torch.float32).eval()
    for prompt in PROMPTS[:4]:
        ids = base.encode(prompt)
        completion = base.complete([prompt], GREEDY)[0]
        row = RowDecoder(base.decode, GREEDY.max_new_tokens)
        decode_batch(base.model, [ids], [row], Sampler(GREEDY, 1, torch.device("cpu")))
        assert row.ids == no_cache_greedy(base.model, ids, GREEDY.max_new_tokens)
        with torch.no_grad():
            hf_out = hf_model.generate(
                torch.tensor([ids]),
                max_new_tokens=GREEDY.max_new_tokens,
                do_sample=False,
                eos_token_id=None,
                pad_token_id=0,
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            )
        assert row.ids == hf_out[0, len(ids) :].tolist()
        assert completion.text == base.decode(row.ids) and completion.generated_tokens == GREEDY.max_new_tokens


def test_batched_equals_sequential_with_rows_finishing_at_different_times(base):
    sequential = [base.complete([p], GREEDY)[0] for p in PROMPTS]
    # Make rows stop early, at different steps: stop on a token the first prompt produces midway.
    first_ids = base.tokenizer.encode(sequential[0].text, bos=False).tolist()
    stop_token = first_ids[len(first_ids) // 2]
    base.stop_tokens = [[stop_token]]
    try:
        alone = [base.complete([p], GREEDY)[0] for p in PROMPTS]
        together = base.complete(PROMPTS, GREEDY, batch_size=4)
        all_at_once = base.complete(PROMPTS, GREEDY, batch_size=len(PROMPTS))
    finally:
        base.stop_tokens = []
    assert [c.text for c in together] == [c.text for c in alone] == [c.text for c in all_at_once]
    assert [c.generated_tokens for c in together] == [c.generated_tokens for c in alone]
    lengths = {c.generated_tokens for c in alone}
    assert len(lengths) > 1, "the stop token should end rows at different steps"
    assert any(c.finish_reason == "stop" for c in alone) and any(c.finish_reason == "length" for c in alone)
    # Without early stops the batched answers are the sequential ones too.
    assert [c.text for c in base.complete(PROMPTS, GREEDY, batch_size=3)] == [c.text for c in sequential]


@pytest.mark.parametrize("family", ["gpt_neox", "qwen2"])
def test_batched_equals_sequential_for_other_families(family, hf_copy):
    from litft.models.convert import convert_hf_checkpoint

    directory = hf_copy(family)
    convert_hf_checkpoint(directory)
    loaded = LoadedModel(directory, device="cpu", prompt_style="default")
    loaded.stop_tokens = []
    settings = SamplingSettings(max_new_tokens=16)
    alone = [loaded.complete([p], settings)[0].text for p in PROMPTS]
    assert [c.text for c in loaded.complete(PROMPTS, settings, batch_size=len(PROMPTS))] == alone
    ids = loaded.encode(PROMPTS[1])
    row = RowDecoder(loaded.decode, 16)
    decode_batch(loaded.model, [ids], [row], Sampler(settings, 1, torch.device("cpu")))
    assert row.ids == no_cache_greedy(loaded.model, ids, 16)


def test_plan_batches_groups_similar_lengths_and_covers_every_prompt():
    lengths = [5, 9, 5, 2, 9, 7, 5]
    batches = plan_batches(lengths, 3)
    assert sorted(i for b in batches for i in b) == list(range(7))
    assert batches[0] == [1, 4, 5] and all(len(b) <= 3 for b in batches)
    equal = plan_batches(lengths, 3, equal_lengths_only=True)
    assert all(len({lengths[i] for i in b}) == 1 for b in equal)
    with pytest.raises(LitftError):
        plan_batches(lengths, 0)


def test_filter_logits_matches_litgpt_sample_pipeline():
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    for temperature, top_k, top_p in [(0.7, None, 1.0), (1.3, 10, 1.0), (0.9, None, 0.6), (0.5, 20, 0.3)]:
        ours = filter_logits(logits, temperature, top_k, top_p)
        for row in range(3):
            expected = logits[row]
            if top_k is not None:
                v, i = torch.topk(expected, top_k)
                expected = torch.full_like(expected, float("-inf")).scatter_(-1, i, v)
            expected = expected / temperature
            if top_p < 1.0:
                expected = sample_top_p(expected, top_p)
            assert torch.equal(ours[row].softmax(-1), expected.softmax(-1))
    assert (filter_logits(logits, 1.0, 5, 1.0) > float("-inf")).sum(-1).tolist() == [5, 5, 5]


def test_seeded_sampling_is_reproducible_and_independent_of_batching(base):
    sampled = SamplingSettings(max_new_tokens=16, temperature=1.0, top_k=40, seed=7)
    alone = [base.complete([p], sampled)[0].text for p in PROMPTS[:3]]
    batched = base.complete(PROMPTS[:3], sampled, batch_size=3)
    # Prompt i of a batch uses seed + i; alone, each prompt is row 0 and uses the seed itself.
    assert batched[0].text == alone[0]
    assert base.complete(PROMPTS[:3], sampled, batch_size=1)[1].text == batched[1].text
    assert [c.text for c in base.complete(PROMPTS[:3], sampled, batch_size=2)] == [c.text for c in batched]
    other = base.complete([PROMPTS[0]], SamplingSettings(max_new_tokens=16, temperature=1.0, top_k=40, seed=8))[0].text
    greedy = base.complete([PROMPTS[0]], SamplingSettings(max_new_tokens=16))[0].text
    assert len({alone[0], other, greedy}) == 3
    # top_k=1 is greedy whatever the temperature.
    assert base.complete([PROMPTS[0]], SamplingSettings(max_new_tokens=16, temperature=2.0, top_k=1))[0].text == greedy


def chars(ids: list[int]) -> str:
    return "".join(chr(ord("a") + i) for i in ids)


def test_row_decoder_stop_strings_and_stop_sequences_hold_back_streamed_text():
    row = RowDecoder(chars, 50, stop_tokens=[[25]], stop_strings=["cde"])
    shown = []
    for token in [0, 1, 2, 3]:  # "abcd": "cd" may begin "cde", so only "ab" is certain
        assert not row.push(token)
        shown.append(row.pending_text())
    assert "".join(shown) == "ab"
    assert row.push(4)  # "abcde": stop string found, answer ends before it
    shown.append(row.pending_text())
    assert row.text == "ab" == "".join(shown) and row.finish_reason == "stop" and row.generated_tokens == 5

    seq = RowDecoder(chars, 50, stop_tokens=[[7, 8]])
    for token in [0, 7]:
        seq.push(token)
    assert seq.pending_text() == "a"  # "h" may be the start of the stop sequence [7, 8]
    assert seq.push(8) and seq.text == "a" and seq.answer_ids == [0]
    assert seq.pending_text() == ""

    capped = RowDecoder(chars, 3, stop_tokens=[[None]])  # a tokenizer without EOS gives [None]: ignored
    assert [capped.push(t) for t in (1, 2, 3)] == [False, False, True]
    assert capped.finish_reason == "length" and capped.text == "bcd"


def test_stop_string_ends_a_real_answer(base):
    full = base.complete([PROMPTS[0]], GREEDY)[0].text
    marker = full[len(full) // 2 : len(full) // 2 + 3]
    cut = base.complete([PROMPTS[0]], SamplingSettings(max_new_tokens=24, stop=[marker]))[0]
    assert cut.text == full[: full.index(marker)] and cut.finish_reason == "stop"
    streamed = []
    assert base.stream(PROMPTS[0], SamplingSettings(max_new_tokens=24, stop=[marker]), streamed.append).text == cut.text
    assert "".join(streamed) == cut.text


def test_saved_prompt_style_is_applied(lit_base, tmp_path):
    import shutil

    run = tmp_path / "styled"
    shutil.copytree(lit_base, run)
    save_prompt_style("qa", run)
    loaded = LoadedModel(run, device="cpu")
    assert loaded.format("Where is the campus?") == "Question: Where is the campus?\nAnswer: "
    assert loaded.style_name == "qa"
    assert LoadedModel(run, device="cpu", prompt_style="alpaca").format("x").startswith("Below is an instruction")
    assert LoadedModel(lit_base, device="cpu").format("x") == "x"  # no saved style, unknown model: unchanged


def _perturbed(model, scale: float, seed: int):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * scale)
    return model


@pytest.fixture(scope="module")
def runs(lit_base, tmp_path_factory):
    from litft.models.checkpoint import load_model

    root = tmp_path_factory.mktemp("runs")
    info = inspect_checkpoint(lit_base)
    base_model, _ = load_model(lit_base)
    made = {}
    lora = LoRASettings(r=4, alpha=8, query=True, value=True, mlp=True, head=True)
    model = build_model("lora", info.config, settings=lora)
    model.load_state_dict(base_model.state_dict(), strict=False)
    made["lora"] = save_checkpoint(
        root / "lora",
        method="lora",
        state_dict=_perturbed(model, 0.3, 1).state_dict(),
        config=info.config,
        source_dir=lit_base,
        base_checkpoint_dir=lit_base,
        settings=lora,
    )
    adapter = AdapterV2Settings(prompt_length=4, start_layer=0)
    model = build_model("adapter_v2", info.config, settings=adapter)
    model.load_state_dict(base_model.state_dict(), strict=False)
    made["adapter_v2"] = save_checkpoint(
        root / "adapter_v2",
        method="adapter_v2",
        state_dict=_perturbed(model, 0.5, 2).state_dict(),
        config=info.config,
        source_dir=lit_base,
        base_checkpoint_dir=lit_base,
        settings=adapter,
    )
    full = build_model("full", info.config)
    full.load_state_dict(base_model.state_dict())
    made["full"] = save_checkpoint(
        root / "full",
        method="full",
        state_dict=_perturbed(full, 0.05, 3).state_dict(),
        config=info.config,
        source_dir=lit_base,
        base_checkpoint_dir=lit_base,
    )
    return made


@pytest.mark.parametrize("method", ["full", "lora", "adapter_v2"])
def test_a_run_dir_from_each_method_generates(method, runs, base, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS[:3]) + "\n\n")
    out = tmp_path / "answers.jsonl"
    run_function(
        generate,
        [
            str(runs[method]),
            "--prompts_file",
            str(prompts),
            "--output",
            str(out),
            "--sampling.temperature",
            "0",
            "--sampling.max_new_tokens",
            "12",
            "--device",
            "cpu",
            "--prompt_style",
            "default",
            "--quiet",
            "true",
        ],
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["instruction"] for r in records] == PROMPTS[:3]
    loaded = LoadedModel(runs[method], device="cpu", prompt_style="default")
    assert loaded.info.method == method
    assert loaded.info.base_dir == (None if method == "full" else base.info.path.resolve())
    expected = loaded.complete(PROMPTS[:3], SamplingSettings(max_new_tokens=12))
    assert [r["answer"] for r in records] == [c.text for c in expected]
    assert [loaded.complete([p], SamplingSettings(max_new_tokens=12))[0].text for p in PROMPTS[:3]] == [
        c.text for c in expected
    ]
    base_answers = [c.text for c in base.complete(PROMPTS[:3], SamplingSettings(max_new_tokens=12))]
    assert [r["answer"] for r in records] != base_answers, "the run's weights must change the answers"


def test_lora_run_answers_like_its_merged_checkpoint_and_its_transformers_export(runs, tmp_path):
    import transformers

    merged = tmp_path / "merged"
    merge_lora(runs["lora"], merged)
    settings = SamplingSettings(max_new_tokens=16)
    run = LoadedModel(runs["lora"], device="cpu", prompt_style="default")
    run.stop_tokens = []
    full = LoadedModel(merged, device="cpu", prompt_style="default")
    full.stop_tokens = []
    assert [c.text for c in run.complete(PROMPTS[:3], settings)] == [
        c.text for c in full.complete(PROMPTS[:3], settings)
    ]
    convert_lit_checkpoint(runs["lora"], tmp_path / "hf")
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", dtype=torch.float32).eval()
    ids = run.encode(PROMPTS[1])
    row = RowDecoder(run.decode, 16)
    decode_batch(run.model, [ids], [row], Sampler(settings, 1, torch.device("cpu")))
    with torch.no_grad():
        hf_out = hf_model.generate(
            torch.tensor([ids]),
            max_new_tokens=16,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
        )
    assert row.ids == hf_out[0, len(ids) :].tolist()


def test_single_prompt_streams_the_same_answer(lit_base, capsys):
    args = [
        str(lit_base),
        "--prompt",
        PROMPTS[0],
        "--sampling.temperature",
        "0",
        "--sampling.max_new_tokens",
        "10",
        "--device",
        "cpu",
        "--quiet",
        "true",
    ]
    run_function(generate, args)
    streamed = capsys.readouterr().out
    run_function(generate, args + ["--stream", "false"])
    assert capsys.readouterr().out == streamed and streamed.strip()
    marker = streamed.strip()[3:5]
    run_function(
        generate, args + ["--sampling.stop", "\\n", marker]
    )  # several stop strings after one flag; \\n is a newline
    assert capsys.readouterr().out == streamed[: streamed.index(marker)] + "\n"
    from litft.generation.generate import stop_strings

    assert stop_strings(["a\\nb", "\\t", "x"]) == ["a\nb", "\t", "x"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sampling.max_new_tokens", "0", "--prompt", "x"], "--sampling.max_new_tokens"),
        (["--prompt", "x", "--prompts_file", "p.txt"], "exactly one of"),
        ([], "exactly one of"),
        (["--prompt", "x", "--sampling.top_p", "1.5"], "--sampling.top_p"),
        (["--prompt", "x", "--quantize", "bnb.nf5"], "--quantize"),
        (["--prompt", "x", "--prompt_style", "nonsense"], "unknown prompt style"),
        (["--prompts_file", "missing.txt"], "does not exist"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(lit_base, args, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_function(generate, [str(lit_base), "--device", "cpu", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(LitftError, match="does not exist"):
        LoadedModel(tmp_path / "nope", device="cpu")


def test_chat_streams_replies_and_exits_cleanly_on_ctrl_d_and_ctrl_c(base):
    settings = SamplingSettings(max_new_tokens=10)
    expected = base.complete([PROMPTS[0]], settings)[0].text
    lines = iter([PROMPTS[0], "   ", "/reset", PROMPTS[0]])  # after /reset the same prompt, the same reply

    def read(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    written, logged = [], []
    assert chat_loop(base, settings, read, written.append, logged.append) == 2
    assert "".join(written) == f">> Reply: {expected}\n" * 2 + "\n"
    assert len(logged) == 3 and "tokens/s" in logged[0] and logged[1] == "conversation reset."

    # Ctrl-C during a reply stops that reply only; Ctrl-C at the prompt ends the chat.
    prompts = iter([PROMPTS[0], PROMPTS[1]])

    def read_then_interrupt(prompt: str) -> str:
        try:
            return next(prompts)
        except StopIteration:
            raise KeyboardInterrupt from None

    out, interrupted = [], []

    def write(text: str) -> None:
        if text and len(out) == 2 and not interrupted:  # the user presses Ctrl-C after the first streamed text
            interrupted.append(True)
            raise KeyboardInterrupt
        out.append(text)

    assert chat_loop(base, SamplingSettings(max_new_tokens=10), read_then_interrupt, write, lambda _: None) == 1
    assert " [stopped]\n" in out and out[-1] == "\n"


def test_chat_keeps_the_conversation_through_the_cli_with_piped_input(lit_base, capsys, monkeypatch):
    loaded = LoadedModel(lit_base, device="cpu", prompt_style="default")
    greedy = SamplingSettings(max_new_tokens=6, temperature=0.0)
    eos = eos_text(loaded.tokenizer)

    def reply(*turns: str) -> str:
        messages = [{"role": ("user", "assistant")[i % 2], "content": turn} for i, turn in enumerate(turns)]
        return loaded.complete([conversation_prompt(loaded.style, messages, eos)], greedy)[0].text

    first = reply(PROMPTS[0])
    with_history, alone = reply(PROMPTS[0], first, PROMPTS[4]), reply(PROMPTS[4])
    assert with_history != alone  # the history changes the answer, so the test below can tell
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PROMPTS[0]}\n{PROMPTS[4]}\n/reset\n{PROMPTS[4]}\n"))
    args = ["chat", str(lit_base), "--prompt_style", "default", "--device", "cpu"]
    main([*args, "--sampling.temperature", "0", "--sampling.max_new_tokens", "6"])
    replies = [part.split("\n")[0] for part in capsys.readouterr().out.split(">> Reply: ")[1:]]
    assert replies == [first, with_history, alone]
    # A history budget that holds only the newest turn drops the oldest exchange first.
    budget = len(loaded.tokenizer.encode(PROMPTS[4]))
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PROMPTS[0]}\n{PROMPTS[4]}\n"))
    main([*args, "--sampling.temperature", "0", "--sampling.max_new_tokens", "6", "--max_history_tokens", str(budget)])
    replies = [part.split("\n")[0] for part in capsys.readouterr().out.split(">> Reply: ")[1:]]
    assert replies == [first, alone]


def test_generate_messages_answers_each_conversation(lit_base, tmp_path):
    loaded = LoadedModel(lit_base, device="cpu", prompt_style="default")
    greedy = SamplingSettings(max_new_tokens=6, temperature=0.0)
    turns = [{"role": "user", "content": PROMPTS[0]}, {"role": "assistant", "content": "yes"}]
    turns.append({"role": "user", "content": PROMPTS[1]})
    (tmp_path / "chat.json").write_text(json.dumps({"messages": turns}), encoding="utf-8")
    expected = loaded.complete([conversation_prompt(loaded.style, turns, eos_text(loaded.tokenizer))], greedy)[0].text
    args = [str(lit_base), "--messages", str(tmp_path / "chat.json"), "--output", str(tmp_path / "out.jsonl")]
    run_function(
        generate,
        [*args, "--prompt_style", "default", "--device", "cpu", "--quiet", "true"]
        + ["--sampling.temperature", "0", "--sampling.max_new_tokens", "6"],
    )
    record = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert record["messages"] == [*turns, {"role": "assistant", "content": expected}]


def test_sliding_window_model_batches_equal_lengths_and_matches_transformers(tmp_path, hf_models):
    """Mistral with a window shorter than prompt + answer: the window really masks while decoding, the converted
    model agrees with transformers, and batching (equal-length prompts only, for ring-buffer caches) equals one
    at a time. (litgpt's ring-buffer cache cannot prefill a prompt longer than the window.)"""
    import shutil

    import transformers

    from litft.models.convert import convert_hf_checkpoint

    torch.manual_seed(0)
    config = transformers.MistralConfig(
        vocab_size=384,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=176,
        max_position_embeddings=128,
        sliding_window=10,  # longer than every prompt
    )
    hf_model = transformers.AutoModelForCausalLM.from_config(
        config, torch_dtype=torch.float32, attn_implementation="eager"
    ).eval()
    directory = tmp_path / "windowed-mistral"
    hf_model.save_pretrained(directory, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):  # the session's tiny tokenizer (vocab 384)
        shutil.copy(hf_models["mistral"] / name, directory / name)
    convert_hf_checkpoint(directory)
    loaded = LoadedModel(directory, device="cpu", prompt_style="default")
    loaded.stop_tokens = []
    assert loaded.info.config.sliding_window_size == 10
    settings = SamplingSettings(max_new_tokens=12)

    alone = [loaded.complete([p], settings)[0].text for p in PROMPTS]
    assert [c.text for c in loaded.complete(PROMPTS, settings, batch_size=len(PROMPTS))] == alone
    ids = loaded.encode(PROMPTS[0])
    assert len(ids) <= 10 < len(ids) + 12  # the window cuts in while decoding
    row = RowDecoder(loaded.decode, 12)
    decode_batch(loaded.model, [ids], [row], Sampler(settings, 1, torch.device("cpu")))
    assert row.ids == no_cache_greedy(loaded.model, ids, 12)
    with torch.no_grad():
        hf_out = hf_model.generate(
            torch.tensor([ids]),
            max_new_tokens=12,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
        )
    assert row.ids == hf_out[0, len(ids) :].tolist()
    with pytest.raises(LitftError, match="sliding attention window is 10"):
        loaded.complete([" ".join(PROMPTS)], settings)
