"""`litft convert lit_to_gguf`: GGUF files that llama.cpp itself runs as litft runs the checkpoint, LoRA adapter
GGUFs that llama.cpp applies as litft applies the run, and the Ollama Modelfile beside them.

llama.cpp is node-llama-cpp's prebuilt CPU build (tests/support/real_models.py, tests/support/llama_cpp.mjs); the
reference is litft itself: its logits, its greedy generation, its tokenizer and its chat prompts. Every GGUF written
here is read back with the gguf package's own GGUFReader (each tensor's type and shape) and imported back with
`litft convert gguf_to_lit` (each value, within its type's rounding).

Tolerance policy: in f32 every next-token probability of a tiny model is llama.cpp's within 1e-5, and every greedy
token of SmolLM2-135M-Instruct equals litft's, in f32 and in f16 (its weights come from a Q4_1 file, so f16 keeps
them nearly exact). q8_0 rounds each block of 32 weights to 8 bits (and llama.cpp rounds the activations it
multiplies them with to 8 bits too), so a greedy continuation follows litft's until two candidates are closer than
that rounding: the first 4 tokens of every prompt and all but one whole continuation must be litft's. q4_0 is
checked as a file (types, shapes, values within a 4-bit step), not by its continuations.
"""

from __future__ import annotations

import json
import os
import shutil

import gguf
import pytest
import torch

from litft.cli import main
from litft.common.errors import LitftError
from litft.common.settings import AdapterV2Settings, LoRASettings, SamplingSettings
from litft.models.build import build_model, resolve_config
from litft.models.checkpoint import inspect_checkpoint, load_model, load_state_dict, save_checkpoint
from litft.models.conversations import conversation_prompt, eos_text
from litft.models.convert import convert_hf_checkpoint
from litft.models.gguf_export import convert_lit_to_gguf
from litft.models.gguf_import import convert_gguf_checkpoint
from litft.models.gguf_outputs import OWN_KEY
from litft.models.prompts import load_prompt_style, save_prompt_style
from litft.models.tokenizer import encode_batch, load_tokenizer
from tests.models.test_gguf import NEW_TOKENS, PROMPTS, TEXTS, write_byte_level_tokenizer
from tests.support.real_models import ask_llama_cpp
from tests.support.tiny_corpus import corpus_lines, make_tokenizer

FAMILIES = ["llama", "qwen2", "mistral", "gpt_neox"]
GGML = gguf.GGMLQuantizationType
TYPES = {"f32": GGML.F32, "f16": GGML.F16, "bf16": GGML.BF16, "q8_0": GGML.Q8_0, "q4_0": GGML.Q4_0}
# the largest difference of a weight from its original after the trip through each type, relative to the largest
# weight of its tensor (a q4_0 step is 1/8 of a block's largest value, q8_0's 1/127)
TYPE_TOLERANCE = {"f32": 0.0, "f16": 1e-3, "bf16": 1e-2, "q8_0": 1e-2, "q4_0": 0.15}
CHATS = [
    [{"role": "user", "content": "Who built the Velmora lighthouse?"}],
    [
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": "Who built it?"},
        {"role": "assistant", "content": "Ada Quill, in 1874."},
        {"role": "user", "content": "Où se trouve-t-il ? 日本語で"},
    ],
]
ALL_LORA = dict(r=4, alpha=8, dropout=0.0, query=True, key=True, value=True, projection=True, mlp=True, head=True)


def export(checkpoint, output, *options: str) -> None:
    main(["convert", "lit_to_gguf", "--checkpoint_dir", str(checkpoint), "--output", str(output), *options])


def read_back(path) -> dict[str, tuple[tuple[int, ...], GGML]]:
    """Each tensor of a GGUF file as gguf's own reader sees it: name -> (numpy shape, type)."""
    reader = gguf.GGUFReader(path)
    assert OWN_KEY in reader.fields  # litft's mark of its own file
    return {tensor.name: (tuple(reversed(tensor.shape.tolist())), tensor.tensor_type) for tensor in reader.tensors}


def lora_run(base, out, settings: LoRASettings, scale: float, seed: int = 3):
    """A LoRA run on `base` whose A and B are random (B is zero after init; a real delta tests the layout)."""
    info = inspect_checkpoint(base)
    base_model, _ = load_model(base)
    model = build_model("lora", info.config, settings=settings)
    model.load_state_dict(base_model.state_dict(), strict=False)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)
    return save_checkpoint(
        out,
        method="lora",
        state_dict=model.state_dict(),
        config=info.config,
        source_dir=base,
        base_checkpoint_dir=base,
        settings=settings,
    )


def next_token_probabilities(checkpoint, ids: torch.Tensor) -> torch.Tensor:
    model, _ = load_model(checkpoint)
    with torch.no_grad():
        return torch.softmax(model(ids)[:, -1], dim=-1)


@pytest.fixture(scope="module")
def tiny_bases(hf_models, tmp_path_factory):
    """family -> a litgpt checkpoint converted from its tiny random HF model."""
    root = tmp_path_factory.mktemp("gguf-export")
    bases = {}
    for family in FAMILIES:
        bases[family] = root / hf_models[family].name
        shutil.copytree(hf_models[family], bases[family])
        convert_hf_checkpoint(bases[family])
    return bases


@pytest.fixture
def ids():
    return torch.randint(0, 384, (2, 23), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_runs_in_llama_cpp_with_litfts_probabilities_and_tokens(family, tiny_bases, ids, tmp_path):
    base = tiny_bases[family]
    export(base, tmp_path / "model.gguf", "--dtype", "f32")
    texts = ["the school offers 12 programs, it's true", "  spaced\n\n\tout  </s>end"]
    answer = ask_llama_cpp(tmp_path / "model.gguf", tmp_path, scored=ids.tolist(), vocab_size=384, texts=texts)
    theirs = torch.tensor(answer["probabilities"])
    assert theirs.max() > 1.5 / 384  # not uniform: a wrong Q/K order or QKV grouping would show
    assert (next_token_probabilities(base, ids) - theirs).abs().max().item() <= 1e-5
    tokenizer = load_tokenizer(base)
    assert answer["tokens"] == encode_batch(tokenizer, texts, bos=False) and answer["add_bos"] == tokenizer.use_bos
    # gguf_to_lit of the export is the checkpoint itself, weight for weight
    convert_gguf_checkpoint(tmp_path / "model.gguf", tmp_path / "back")
    original, back = load_state_dict(base / "lit_model.pth"), load_state_dict(tmp_path / "back" / "lit_model.pth")
    assert original.keys() == back.keys() and all(torch.equal(original[k], back[k]) for k in original)


@pytest.mark.parametrize("dtype", list(TYPES))
def test_each_dtype_reads_back_with_the_types_shapes_and_values_written(dtype, lit_tied_base, tmp_path):
    export(lit_tied_base, tmp_path / "model.gguf", "--dtype", dtype)
    tensors = read_back(tmp_path / "model.gguf")
    assert "output.weight" not in tensors  # tied: llama.cpp uses token_embd as the output layer
    original = load_state_dict(lit_tied_base / "lit_model.pth")
    config = inspect_checkpoint(lit_tied_base).config
    assert len(tensors) == 2 + 9 * config.n_layer
    for name, (shape, kind) in tensors.items():
        wanted = TYPES[dtype]
        if dtype == "q4_0" and name == "token_embd.weight":  # the output layer (tied) keeps 8 bits
            wanted = GGML.Q8_0
        if len(shape) == 1:
            wanted = GGML.F32
        elif shape[-1] % gguf.GGML_QUANT_SIZES[wanted][0]:
            wanted = GGML.F16  # rows of 176 (ffn_down) are not whole 32-value blocks
        assert kind == wanted, name
    assert tensors["blk.1.ffn_down.weight"][0] == (64, 176) and tensors["blk.0.attn_k.weight"][0] == (32, 64)
    convert_gguf_checkpoint(tmp_path / "model.gguf", tmp_path / "back")
    back = load_state_dict(tmp_path / "back" / "lit_model.pth")
    for key, value in original.items():
        error = (back[key].float() - value.float()).abs().max() / value.float().abs().max()
        assert error <= TYPE_TOLERANCE[dtype], key


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt_neox"])
def test_each_familys_lora_adapter_in_llama_cpp_gives_the_runs_probabilities(family, tiny_bases, ids, tmp_path):
    base = tiny_bases[family]
    run = lora_run(base, tmp_path / "run", LoRASettings(**ALL_LORA), scale=0.1)
    export(base, tmp_path / "base.gguf", "--dtype", "f32")
    export(run, tmp_path / "adapter.gguf", "--adapter_only", "true", "--dtype", "f32")
    reader = gguf.GGUFReader(tmp_path / "adapter.gguf")
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    attention = "attn_qkv" if family == "gpt_neox" else "attn_k"
    expected = {f"blk.1.{attention}.weight.lora_a", f"blk.1.{attention}.weight.lora_b", "output.weight.lora_b"}
    assert expected <= {tensor.name for tensor in reader.tensors}
    assert not (tmp_path / "adapter.Modelfile").exists()
    request = dict(scored=ids.tolist(), vocab_size=384)
    with_adapter = torch.tensor(
        ask_llama_cpp(tmp_path / "base.gguf", tmp_path, lora=str(tmp_path / "adapter.gguf"), **request)["probabilities"]
    )
    plain = torch.tensor(ask_llama_cpp(tmp_path / "base.gguf", tmp_path, **request)["probabilities"])
    ours = next_token_probabilities(run, ids)
    assert (plain - ours).abs().max() > 1e-3  # the adapter changes the model
    assert (with_adapter - ours).abs().max().item() <= 1e-5


@pytest.mark.parametrize(
    "scaling",
    [
        {"rope_adjustments": dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_seq_len=16)},
        {"rope_condense_ratio": 4},
    ],
    ids=["llama3", "linear"],
)
def test_rope_scaling_is_written_as_llama_cpp_reads_it(scaling, lit_base, tmp_path):
    ids = torch.randint(0, 384, (2, 100), generator=torch.Generator().manual_seed(1))
    probabilities = {}
    for name, fields in (("plain", {}), ("scaled", scaling)):
        config = resolve_config("litft-tiny-llama", vocab_size=384, padded_vocab_size=384, block_size=128, **fields)
        torch.manual_seed(0)
        model = build_model("full", config)
        with torch.no_grad():  # sharper attention, so that positions (and their RoPE) matter
            for key, param in model.named_parameters():
                if key.endswith("attn.qkv.weight"):
                    param.mul_(2)
        checkpoint = save_checkpoint(
            tmp_path / name, method="full", state_dict=model.state_dict(), config=config, source_dir=lit_base
        )
        export(checkpoint, tmp_path / f"{name}.gguf", "--dtype", "f32")
        answer = ask_llama_cpp(tmp_path / f"{name}.gguf", tmp_path, scored=ids.tolist(), vocab_size=384)
        probabilities[name] = next_token_probabilities(checkpoint, ids)
        assert (probabilities[name] - torch.tensor(answer["probabilities"])).abs().max().item() <= 1e-5
    assert (probabilities["plain"] - probabilities["scaled"]).abs().max() > 1e-3


def sentencepiece_tokenizer(directory):
    """A SentencePiece BPE model with byte fallback and no normalization, as Llama 2's (llama.cpp applies no
    SentencePiece normalizer, so a model that has one tokenizes differently there)."""
    import io

    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines(500)),
        model_writer=model,
        vocab_size=380,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        split_digits=True,
        minloglevel=2,
    )
    directory.mkdir()
    (directory / "tokenizer.model").write_bytes(model.getvalue())
    config = {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True}
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    return directory


@pytest.mark.parametrize("kind", ["gpt-2", "smollm", "qwen2", "llama-bpe", "sentencepiece"])
def test_each_kind_of_tokenizer_splits_text_as_llama_cpp(kind, lit_base, tmp_path):
    from tokenizers import Tokenizer

    from litft.models.gguf_tokenizer import _pre_tokenizer

    if kind == "sentencepiece":
        tokenizer_dir = sentencepiece_tokenizer(tmp_path / "tok")
    else:
        tokenizer_dir = write_byte_level_tokenizer(tmp_path / "tok")
        tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        tokenizer.pre_tokenizer = _pre_tokenizer(kind)
        tokenizer.save(str(tokenizer_dir / "tokenizer.json"))
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(lit_base, checkpoint, ignore=shutil.ignore_patterns("tokenizer*"))
    for file in tokenizer_dir.iterdir():
        shutil.copy(file, checkpoint / file.name)
    config = json.loads((checkpoint / "tokenizer_config.json").read_text())
    config.setdefault("tokenizer_class", "PreTrainedTokenizerFast")  # litgpt's Tokenizer reads it
    (checkpoint / "tokenizer_config.json").write_text(json.dumps(config))
    export(checkpoint, tmp_path / "model.gguf", "--dtype", "f32")
    metadata = gguf.GGUFReader(tmp_path / "model.gguf").fields
    assert metadata["tokenizer.ggml.pre"].contents() == ("default" if kind == "sentencepiece" else kind)
    answer = ask_llama_cpp(tmp_path / "model.gguf", tmp_path, texts=TEXTS)
    tokenizer = load_tokenizer(checkpoint)
    assert answer["add_bos"] == tokenizer.use_bos
    assert answer["tokens"] == encode_batch(tokenizer, TEXTS, bos=False)


def test_the_demo_size_model_and_its_alpaca_style_run_in_llama_cpp_as_in_litft(tmp_path):
    from litft.generation.generate import LoadedModel

    tokenizer_dir = make_tokenizer(tmp_path / "tokenizer", vocab_size=1024)
    config = resolve_config("litft-demo-llama")
    torch.manual_seed(0)
    base = save_checkpoint(
        tmp_path / "base",
        method="full",
        state_dict=build_model("full", config).state_dict(),
        config=config,
        source_dir=tokenizer_dir,
    )
    save_prompt_style("alpaca", base)
    export(base, tmp_path / "demo.gguf", "--dtype", "f32")
    loaded = LoadedModel(base, device="cpu", precision="32-true")
    questions = ["Who teaches CS 320?", "When is the admissions deadline?", "What labs does the school have?"]
    prompts = [loaded.format(question) for question in questions]
    ours = loaded.complete(prompts, SamplingSettings(max_new_tokens=NEW_TOKENS), batch_size=len(prompts))
    prompt_ids = encode_batch(loaded.tokenizer, prompts)
    answer = ask_llama_cpp(tmp_path / "demo.gguf", tmp_path, prompts=prompt_ids, max_tokens=NEW_TOKENS, chats=CHATS)
    eos = loaded.tokenizer.eos_id
    theirs = [ids[: ids.index(eos)] if eos in ids else ids for ids in answer["continuations"]]
    assert [loaded.decode(ids) for ids in theirs] == [completion.text for completion in ours]
    # the chat template built from the alpaca style renders conversations as litft prompts them
    style, eos_token = load_prompt_style(base), eos_text(loaded.tokenizer)
    assert answer["chats"] == [conversation_prompt(style, chat, eos_token) for chat in CHATS]
    modelfile = (tmp_path / "demo.Modelfile").read_text()
    assert (
        "FROM ./demo.gguf\n" in modelfile and "### Response:\\n" in modelfile and 'PARAMETER stop "</s>"' in modelfile
    )
    assert "PARAMETER num_ctx 1536" in modelfile


# ---- the real model: SmolLM2-135M-Instruct -------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_exports(smollm2, tmp_path_factory):
    """The `smollm2` import exported in f32, f16 and q8_0."""
    root = tmp_path_factory.mktemp("smollm2-gguf")
    for dtype in ("f32", "f16", "q8_0"):
        export(smollm2, root / f"smollm2-{dtype}.gguf", "--dtype", dtype)
    return root


def litft_greedy(checkpoint) -> tuple[object, list[str]]:
    """litft's tokenizer and greedy continuations of PROMPTS (its generation path: KV cache, batched rows)."""
    from litft.generation.generate import LoadedModel

    loaded = LoadedModel(checkpoint, device="cpu", precision="32-true", prompt_style="default")
    completions = loaded.complete(PROMPTS, SamplingSettings(max_new_tokens=NEW_TOKENS), batch_size=len(PROMPTS))
    return loaded.tokenizer, [completion.text for completion in completions]


def greedy_ids(answer) -> list[list[int]]:
    """llama.cpp's greedy continuations, each up to its first end-of-generation token (SmolLM2: 0 and 2)."""
    return [ids[: next((i for i, t in enumerate(ids) if t in (0, 2)), len(ids))] for ids in answer["continuations"]]


def decoded(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(torch.tensor(ids, dtype=torch.long)) if ids else ""


@pytest.fixture(scope="module")
def smollm2_greedy(smollm2):
    return litft_greedy(smollm2)


@pytest.fixture(scope="module")
def smollm2_answers(smollm2_exports, smollm2_greedy, tmp_path_factory):
    """llama.cpp's answers on each export, one run per file: the greedy continuations of PROMPTS, and on the f16
    file the tokens of TEXTS and the CHATS as the GGUF's chat template renders them."""
    tokenizer, _ = smollm2_greedy
    folder = tmp_path_factory.mktemp("smollm2-llama-cpp")
    request = dict(prompts=encode_batch(tokenizer, PROMPTS), max_tokens=NEW_TOKENS)
    return {
        dtype: ask_llama_cpp(
            smollm2_exports / f"smollm2-{dtype}.gguf",
            folder,
            **request,
            **(dict(texts=TEXTS, chats=CHATS) if dtype == "f16" else {}),
        )
        for dtype in ("f32", "f16", "q8_0")
    }


def test_smollm2_f32_and_f16_exports_give_litfts_greedy_tokens_in_llama_cpp(smollm2_answers, smollm2_greedy):
    tokenizer, ours = smollm2_greedy
    assert ours[0].startswith("The capital of France is Paris")
    for dtype in ("f32", "f16"):
        assert [decoded(tokenizer, ids) for ids in greedy_ids(smollm2_answers[dtype])] == ours, dtype


def test_smollm2_q8_0_export_agrees_on_the_first_tokens(smollm2_answers, smollm2_greedy, smollm2_exports):
    tokenizer, ours = smollm2_greedy
    theirs = greedy_ids(smollm2_answers["q8_0"])
    for mine, ids in zip(ours, theirs, strict=True):
        assert mine.startswith(decoded(tokenizer, ids[:4]))  # the module's tolerance policy
    assert sum(mine == decoded(tokenizer, ids) for mine, ids in zip(ours, theirs, strict=True)) >= len(PROMPTS) - 1
    assert read_back(smollm2_exports / "smollm2-q8_0.gguf")["blk.0.attn_q.weight"] == ((576, 576), GGML.Q8_0)


def test_smollm2_export_tokenizes_and_renders_chats_as_litft(smollm2, smollm2_exports, smollm2_answers):
    answer, gguf_file = smollm2_answers["f16"], smollm2_exports / "smollm2-f16.gguf"
    tokenizer = load_tokenizer(smollm2)
    assert answer["tokens"] == encode_batch(tokenizer, TEXTS) and answer["add_bos"] is False
    assert answer["chat_template"] == json.loads((smollm2 / "tokenizer_config.json").read_text())["chat_template"]
    style = load_prompt_style(smollm2)
    assert answer["chats"] == [conversation_prompt(style, chat, eos_text(tokenizer)) for chat in CHATS]
    assert answer["chats"][0].startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    metadata = gguf.GGUFReader(gguf_file).fields
    assert metadata["general.name"].contents() == "SmolLM2-135M-Instruct"
    assert [metadata[f"tokenizer.ggml.{key}_token_id"].contents() for key in ("bos", "eos")] == [1, 2]
    assert "output.weight" not in read_back(gguf_file)  # tied, as the original file
    modelfile = (smollm2_exports / "smollm2-f16.Modelfile").read_text()
    assert "FROM ./smollm2-f16.gguf\n" in modelfile
    assert 'TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n' in modelfile
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""' in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and "PARAMETER num_ctx 8192" in modelfile


def test_smollm2_lora_adapter_on_the_base_gguf_gives_the_merged_models_greedy_tokens(
    smollm2, smollm2_exports, smollm2_greedy, tmp_path
):
    settings = LoRASettings(**{**ALL_LORA, "head": False})  # SmolLM2's output layer is its embedding
    run = lora_run(smollm2, tmp_path / "run", settings, scale=0.05)
    export(run, tmp_path / "adapter.gguf", "--adapter_only", "true", "--dtype", "f32")
    tokenizer, base_greedy = smollm2_greedy
    _, merged = litft_greedy(run)
    assert sum(a != b for a, b in zip(merged, base_greedy, strict=True)) >= 2  # the LoRA run answers differently
    answer = ask_llama_cpp(
        smollm2_exports / "smollm2-f16.gguf",
        tmp_path,
        prompts=encode_batch(tokenizer, PROMPTS),
        max_tokens=NEW_TOKENS,
        lora=str(tmp_path / "adapter.gguf"),
    )
    assert [decoded(tokenizer, ids) for ids in greedy_ids(answer)] == merged


# ---- refusals and the files litft may replace ---------------------------------------------------------------


def adapter_v2_run(base, out):
    info = inspect_checkpoint(base)
    settings = AdapterV2Settings()
    model = build_model("adapter_v2", info.config, settings=settings)
    return save_checkpoint(
        out,
        method="adapter_v2",
        state_dict=model.state_dict(),
        config=info.config,
        source_dir=base,
        base_checkpoint_dir=base,
        settings=settings,
    )


def test_what_cannot_be_exported_is_refused_in_one_sentence(lit_base, tmp_path, capsys, monkeypatch):
    config = resolve_config("litft-tiny-llama", norm_qk=True)
    qk_norm = save_checkpoint(
        tmp_path / "qk-norm",
        method="full",
        state_dict=build_model("full", config).state_dict(),
        config=config,
        source_dir=lit_base,
    )
    adapter_v2 = adapter_v2_run(lit_base, tmp_path / "adapter-v2")
    out = tmp_path / "out.gguf"
    cases = [
        ([qk_norm], "is not of an architecture litft writes as GGUF"),
        ([adapter_v2], "adapter_v2 weights have no llama.cpp equivalent"),
        ([adapter_v2, "--adapter_only", "true"], "not a LoRA run; adapter-v2 weights have no llama.cpp form"),
        ([lit_base, "--adapter_only", "true"], "is a full checkpoint, not a LoRA run"),
        ([lit_base, "--dtype", "q3"], "unknown --dtype 'q3'"),
        ([lit_base, "--adapter_only", "true", "--dtype", "q8_0"], "not one a LoRA adapter GGUF is written in"),
        ([lit_base, "--dtype", "q4_k_m"], "made by llama.cpp's llama-quantize, which is not on PATH"),
    ]
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no llama-quantize
    for (checkpoint, *options), message in cases:
        with pytest.raises(SystemExit) as exit_info:
            export(checkpoint, out, *options)
        error = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in error, error
        assert error.count("\n") == 1 and "Traceback" not in error
    assert not out.exists() and sorted(path.name for path in tmp_path.iterdir()) == ["adapter-v2", "qk-norm"]


def test_an_existing_output_is_replaced_only_when_litft_wrote_it_or_with_overwrite(lit_base, tmp_path, capsys):
    mine = tmp_path / "model.gguf"
    for foreign, message in ((mine, "model.gguf already exists"), (tmp_path / "model.Modelfile", "model.Modelfile")):
        foreign.write_text("the user's own file")
        with pytest.raises(SystemExit) as exit_info:
            export(lit_base, mine)
        error = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in error and "litft did not write it" in error
        assert foreign.read_text() == "the user's own file"
        export(lit_base, mine, "--overwrite", "true")
        assert OWN_KEY in gguf.GGUFReader(mine).fields
    export(lit_base, mine, "--dtype", "q8_0")  # litft's own files: replaced without --overwrite
    assert read_back(mine)["blk.0.attn_q.weight"][1] == GGML.Q8_0
    assert (tmp_path / "model.Modelfile").read_text().startswith("# Written by litft convert lit_to_gguf")
    with pytest.raises(LitftError, match="is a file of the checkpoint"):
        convert_lit_to_gguf(lit_base, lit_base / "lit_model.pth", overwrite=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.Modelfile", "model.gguf"]


def test_a_k_quant_is_made_by_llama_quantize_on_path(lit_base, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "llama-quantize"  # llama.cpp's command line: SOURCE TARGET TYPE; this one records and copies
    tool.write_text(
        '#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\n'
        '[ "$3" = Q6_K ] && { echo "bad type" >&2; exit 1; }\ncp "$1" "$2"\n'
    )
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out" / "model-q4_k_m.gguf"
    export(lit_base, out, "--dtype", "q4_k_m")
    source, target, kind = (bin_dir / "args").read_text().split()
    assert kind == "Q4_K_M" and target != str(out) and not os.path.exists(source)  # its input was a temporary f16 file
    assert read_back(out)["blk.0.attn_q.weight"][1] == GGML.F16  # what the stand-in copied
    with pytest.raises(LitftError, match=r"llama-quantize failed to make Q6_K \(bad type\)"):
        convert_lit_to_gguf(lit_base, tmp_path / "out" / "model-q6_k.gguf", dtype="q6_k")
    assert sorted(path.name for path in out.parent.iterdir()) == ["model-q4_k_m.Modelfile", "model-q4_k_m.gguf"]


def test_a_failed_export_leaves_no_file(lit_base, tmp_path, monkeypatch):
    from litft.models import gguf_export

    real, calls = gguf_export.encode, []

    def failing(tensor, qtype):  # the disk fills up after the first tensor
        calls.append(qtype)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real(tensor, qtype)

    monkeypatch.setattr(gguf_export, "encode", failing)
    with pytest.raises(OSError, match="No space left"):
        convert_lit_to_gguf(lit_base, tmp_path / "model.gguf", dtype="f32")
    assert list(tmp_path.iterdir()) == []


def test_the_light_entry_point_matches_the_implementation():
    import inspect

    from litft import commands

    entry, implementation = commands.convert_lit_to_gguf, convert_lit_to_gguf
    assert inspect.signature(entry).parameters == inspect.signature(implementation).parameters
    assert inspect.getdoc(entry) == inspect.getdoc(implementation)
