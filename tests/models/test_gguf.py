"""`litft convert gguf_to_lit`: GGUF files as litgpt checkpoints, checked against llama.cpp and transformers.

Tiny random models of each family go HF -> GGUF (written as llama.cpp writes them, tests/support/gguf_files.py)
-> litft; the real SmolLM2-135M-Instruct GGUF is imported once per session (the `smollm2` fixture).
llama.cpp is node-llama-cpp's prebuilt CPU build (tests/support/real_models.py).

Tolerance policy for the Q4_1 file: llama.cpp multiplies Q4_1 weights by activations it first rounds to 8 bits
(Q8_1), litft by the same weights dequantized to fp32, so their logits differ by that rounding and a greedy
continuation follows llama.cpp's until two candidates are closer than it. The Q4_1 test asks for the first
tokens of every prompt and most whole continuations; on an f32 GGUF of the same weights, where both compute in
fp32, every token of every continuation must be equal.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
import transformers
from safetensors.torch import load_file

from litft.cli import main
from litft.common.errors import LitftError
from litft.common.settings import SamplingSettings
from litft.models.checkpoint import load_model
from litft.models.convert import convert_lit_checkpoint
from litft.models.gguf_import import convert_gguf_checkpoint
from litft.models.tokenizer import encode_batch, load_tokenizer
from tests.support.gguf_files import copy_with_tensors, gguf_tensors, tokenizer_fields, write_gguf
from tests.support.real_models import ask_llama_cpp

FAMILIES = ["llama", "qwen2", "mistral", "gpt_neox"]
TEXTS = [
    "Hello world, 12345 and 3.14159!",
    "naïve café — 日本語 🎉 Ünïcödé",
    "  leading  spaces\n\n\ttabs and trailing   ",
    "it's we'LL they'VE 1,000,000",
    "def f(x):\n    return x**2  # comment",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "no<|im_end|>space<|im_start|>between",
]
PROMPTS = [
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "The quick brown fox",
    "def fibonacci(n):",
    "<|im_start|>user\nName three colors.<|im_end|>\n<|im_start|>assistant\n",
]
NEW_TOKENS = 16


@pytest.fixture(scope="module")
def tiny_ggufs(hf_models, tmp_path_factory):
    """family -> (its HF folder, its f32 GGUF, the litgpt checkpoint gguf_to_lit made of it)."""
    root = tmp_path_factory.mktemp("gguf")
    made = {}
    for family in FAMILIES:
        hf_dir = hf_models[family]
        hf_config = json.loads((hf_dir / "config.json").read_text())
        tensors = gguf_tensors(load_file(hf_dir / "model.safetensors"), hf_config)
        path = write_gguf(
            root / f"{family}.gguf", hf_config, tensors, tokenizer_fields(hf_dir, hf_config["vocab_size"])
        )
        convert_gguf_checkpoint(path, root / family)
        made[family] = (hf_dir, path, root / family)
    return made


@pytest.fixture
def tokens():
    return torch.randint(0, 384, (2, 23), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_imports_with_the_logits_of_transformers(family, tiny_ggufs, tokens, one_thread):
    hf_dir, _, lit_dir = tiny_ggufs[family]
    model, _ = load_model(lit_dir)
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        assert (model(tokens) - hf_model(tokens).logits).abs().max().item() <= 1e-4


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_imports_with_the_next_token_probabilities_of_llama_cpp(family, tiny_ggufs, tokens, tmp_path):
    _, gguf, lit_dir = tiny_ggufs[family]
    answer = ask_llama_cpp(gguf, tmp_path, scored=tokens.tolist(), vocab_size=384)
    model, _ = load_model(lit_dir)
    with torch.no_grad():
        ours = torch.softmax(model(tokens)[:, -1], dim=-1)
    theirs = torch.tensor(answer["probabilities"])
    assert theirs.max() > 1.5 / 384  # not uniform: a wrong Q/K order or QKV grouping would show
    assert (ours - theirs).abs().max().item() <= 1e-5


def write_byte_level_tokenizer(directory):
    """A byte-level BPE covering every byte, with ChatML special tokens (BOS <|im_start|>, EOS <|im_end|>)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TEXTS * 20 + ["the school offers 2024 programs in it's 12 labs"] * 20, trainer)
    directory.mkdir(parents=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    config = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "add_bos_token": False}
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    return directory


@pytest.mark.parametrize("pre", ["gpt-2", "smollm", "qwen2", "llama-bpe"])
def test_each_pre_tokenizer_splits_text_as_llama_cpp(pre, hf_models, tmp_path):
    hf_dir = hf_models["llama"]
    hf_config = json.loads((hf_dir / "config.json").read_text())
    fields = tokenizer_fields(write_byte_level_tokenizer(tmp_path / "tok"), hf_config["vocab_size"], pre=pre)
    del fields["add_bos"]  # left to llama.cpp's default for the pre-tokenizer, which litft must know too
    tensors = gguf_tensors(load_file(hf_dir / "model.safetensors"), hf_config)
    gguf = write_gguf(tmp_path / "model.gguf", hf_config, tensors, fields)
    convert_gguf_checkpoint(gguf, tmp_path / "lit")
    answer = ask_llama_cpp(gguf, tmp_path, texts=TEXTS)
    tokenizer = load_tokenizer(tmp_path / "lit")
    assert tokenizer.use_bos == answer["add_bos"] == (pre == "llama-bpe")
    assert encode_batch(tokenizer, TEXTS, bos=False) == answer["tokens"]


def test_a_gguf_whose_eos_is_its_bos_is_imported_with_the_chat_templates_end_of_turn(hf_models, tmp_path, capsys):
    hf_dir = hf_models["llama"]
    hf_config = json.loads((hf_dir / "config.json").read_text())
    tokenizer_dir = write_byte_level_tokenizer(tmp_path / "tok")
    chatml = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    )
    config = {"bos_token": "<|im_start|>", "eos_token": "<|im_start|>", "chat_template": chatml}
    (tokenizer_dir / "tokenizer_config.json").write_text(json.dumps(config))
    tensors = gguf_tensors(load_file(hf_dir / "model.safetensors"), hf_config)
    gguf = write_gguf(tmp_path / "m.gguf", hf_config, tensors, tokenizer_fields(tokenizer_dir, 384))
    convert_gguf_checkpoint(gguf, tmp_path / "lit")
    assert (
        "uses '<|im_start|>' as both BOS and EOS, so generation would never stop; litft set eos_token to \"<|im_end|>\""
        in (capsys.readouterr().out)
    )
    tokenizer = load_tokenizer(tmp_path / "lit")
    assert tokenizer.eos_id == tokenizer.token_to_id("<|im_end|>") != tokenizer.bos_id
    generation = json.loads((tmp_path / "lit" / "generation_config.json").read_text())
    assert generation["eos_token_id"] == tokenizer.eos_id


def test_unsupported_or_damaged_files_are_refused_in_one_sentence(tiny_ggufs, tmp_path, capsys):
    import gguf

    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("not a model")
    with pytest.raises(LitftError, match="is not a readable GGUF file"):
        convert_gguf_checkpoint(not_gguf, tmp_path / "out")
    _, path, _ = tiny_ggufs["llama"]
    for key, value, message in (
        ("general.architecture", "gemma", "litft imports llama, qwen2, gptneox"),
        ("tokenizer.ggml.pre", "deepseek-llm", "pre-tokenizer 'deepseek-llm' is not one litft rebuilds"),
        ("tokenizer.ggml.model", "llama", "SentencePiece"),
    ):
        changed = tmp_path / f"{value}.gguf"
        reader = gguf.GGUFReader(path)
        writer = gguf.GGUFWriter(changed, value if key == "general.architecture" else "llama")
        for name, field in reader.fields.items():
            if name.startswith("GGUF.") or name == "general.architecture":
                continue
            sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(name, value if name == key else field.contents(), field.types[0], sub_type=sub_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        with pytest.raises(LitftError, match=message):
            convert_gguf_checkpoint(changed, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for arguments, message in (
        (["--gguf", str(path), "--output_dir", str(foreign)], "files litft did not write"),
        (["--gguf", str(tmp_path / "missing.gguf"), "--output_dir", str(tmp_path / "x")], "--gguf .* does not exist"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["convert", "gguf_to_lit", *arguments])
        assert exit_info.value.code == 2 and re.search(message, capsys.readouterr().err)
    assert sorted(path.name for path in foreign.iterdir()) == ["notes.txt"]


# ---- the real model: SmolLM2-135M-Instruct -------------------------------------------------------------------


def test_smollm2_tokenizer_gives_llama_cpps_ids_and_special_tokens(smollm2, smollm2_gguf, tmp_path):
    tokenizer = load_tokenizer(smollm2)
    config = json.loads((smollm2 / "tokenizer_config.json").read_text())
    assert (config["bos_token"], config["eos_token"], config["add_bos_token"]) == ("<|im_start|>", "<|im_end|>", False)
    assert (tokenizer.bos_id, tokenizer.eos_id, tokenizer.use_bos) == (1, 2, False)  # the folder's name is not obeyed
    answer = ask_llama_cpp(smollm2_gguf, tmp_path, texts=TEXTS)
    assert encode_batch(tokenizer, TEXTS) == answer["tokens"]
    # every chat turn keeps its <|im_start|> (BOS) and every reply its <|im_end|> (EOS), as llama.cpp reads them
    assert encode_batch(tokenizer, [TEXTS[5]], bos=False)[0].count(1) == 2


@pytest.fixture(scope="module")
def smollm2_greedy(smollm2):
    """litft's greedy continuations of PROMPTS on the import (its generation path: KV cache, batched rows), and
    the loaded tokenizer."""
    from litft.generation.generate import LoadedModel

    loaded = LoadedModel(smollm2, device="cpu", precision="32-true", prompt_style="default")
    completions = loaded.complete(PROMPTS, SamplingSettings(max_new_tokens=NEW_TOKENS), batch_size=len(PROMPTS))
    return loaded.tokenizer, [completion.text for completion in completions]


def llama_cpp_greedy(gguf, tokenizer, prompts, tmp_path):
    """llama.cpp's greedy continuations of litft's prompt ids, up to its first end-of-generation token: as text
    and as the text of each of their first tokens."""
    answer = ask_llama_cpp(gguf, tmp_path, prompts=encode_batch(tokenizer, prompts), max_tokens=NEW_TOKENS)
    texts, prefixes = [], []
    for ids in answer["continuations"]:
        ids = ids[: next((i for i, token in enumerate(ids) if token in (0, 2)), len(ids))]
        texts.append(tokenizer.decode(torch.tensor(ids, dtype=torch.long)) if ids else "")
        prefixes.append([tokenizer.decode(torch.tensor(ids[:count], dtype=torch.long)) for count in range(1, 5)])
    return texts, prefixes


def test_smollm2_greedy_follows_llama_cpp_on_the_q4_1_file(smollm2_greedy, smollm2_gguf, tmp_path):
    tokenizer, ours = smollm2_greedy
    theirs, prefixes = llama_cpp_greedy(smollm2_gguf, tokenizer, PROMPTS, tmp_path)
    assert ours[0].startswith("The capital of France is Paris")
    for mine, first_tokens in zip(ours, prefixes, strict=True):
        assert mine.startswith(first_tokens[-1])  # the first 4 tokens of every prompt (the module's tolerance policy)
    assert sum(mine == reference for mine, reference in zip(ours, theirs, strict=True)) >= len(PROMPTS) - 1


@pytest.fixture(scope="module")
def smollm2_export(smollm2, tmp_path_factory):
    """The import exported for transformers by `litft convert lit_to_hf`."""
    out = tmp_path_factory.mktemp("smollm2_hf") / "export"
    convert_lit_checkpoint(smollm2, out)
    return out


def test_smollm2_greedy_equals_llama_cpp_exactly_on_an_f32_file_of_the_same_weights(
    smollm2_greedy, smollm2_gguf, smollm2_export, tmp_path
):
    hf_config = json.loads((smollm2_export / "config.json").read_text())
    assert hf_config["tie_word_embeddings"] is True
    tensors = gguf_tensors(load_file(smollm2_export / "model.safetensors"), hf_config)
    f32 = copy_with_tensors(smollm2_gguf, tmp_path / "smollm2-f32.gguf", tensors)
    tokenizer, ours = smollm2_greedy
    assert ours == llama_cpp_greedy(f32, tokenizer, PROMPTS, tmp_path)[0]


def test_smollm2_export_gives_transformers_the_same_tokens_and_greedy_text(smollm2_greedy, smollm2_export):
    ours_tokenizer, ours = smollm2_greedy
    tokenizer = transformers.AutoTokenizer.from_pretrained(smollm2_export)
    assert (tokenizer.bos_token, tokenizer.eos_token) == ("<|im_start|>", "<|im_end|>")
    assert [tokenizer(text).input_ids for text in TEXTS] == encode_batch(ours_tokenizer, TEXTS)
    model = transformers.AutoModelForCausalLM.from_pretrained(smollm2_export, dtype=torch.float32).eval()
    for prompt, mine in zip(PROMPTS, ours, strict=True):
        ids = torch.tensor([encode_batch(ours_tokenizer, [prompt])[0]])
        with torch.no_grad():
            generated = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=2)
        assert tokenizer.decode(generated[0, ids.shape[1] :], skip_special_tokens=True) == mine
