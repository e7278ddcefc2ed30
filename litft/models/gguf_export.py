"""litgpt checkpoints and LoRA runs as GGUF files for llama.cpp, Ollama and LM Studio: `litft convert lit_to_gguf`.

Written directly from litft's weights with the `gguf` package (llama.cpp's own Python library: its writer and its
quantizers), with no llama.cpp checkout and no Hugging Face folder in between. The layout is gguf_import's,
inverted in one place: litgpt's weights get their Hugging Face names from litgpt's lit → HF copy functions (as
`lit_to_hf` does), those names their GGUF names from gguf_import's tables, and the Llama family's Q/K rows and
GPT-NeoX's fused QKV are reordered as llama.cpp's convert_hf_to_gguf.py does (gguf_import's reorderings, the other
way). The hyperparameters are the keys gguf_import reads. The file is streamed: the header with every tensor's name,
shape and type first, then each tensor converted and written on its own, so the export holds one tensor at a time
beside the memory-mapped checkpoint.

A LoRA run is merged on the fly, or with `adapter_only` written as a llama.cpp LoRA adapter for its base's GGUF:
the PEFT export's A and B matrices (one pair per Hugging Face module, B's rows reordered as its weight's rows are).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import torch

from litft import __version__
from litft.common.errors import LitftError
from litft.common.io import atomic_path, make_temp_dir, refuse_same_path
from litft.common.settings import LoRASettings
from litft.models.build import embeddings_tied
from litft.models.checkpoint import CheckpointInfo, inspect_checkpoint, load_state_dict
from litft.models.convert import _lit_to_hf_copier
from litft.models.gguf_import import GPT_NEOX_NAMES, LLAMA_NAMES, group_gpt_neox_qkv, permute_rope_rows
from litft.models.gguf_outputs import (
    LLAMA_QUANTIZE,
    LLAMA_QUANTIZE_TYPES,
    OWN_KEY,
    check_gguf_dtype,
    check_gguf_outputs,
    is_own_gguf,
    modelfile_path,
)
from litft.models.gguf_tokenizer import gguf_tokenizer_metadata
from litft.models.hf_config import family_of_litgpt
from litft.models.merge import full_precision_note
from litft.models.methods import get_method
from litft.models.ollama import chat_template_of, write_modelfile

GGML = gguf.GGMLQuantizationType
# --dtype -> (the type of the model's matrices, llama.cpp's file type)
WRITTEN = {
    "f32": (GGML.F32, gguf.LlamaFileType.ALL_F32),
    "f16": (GGML.F16, gguf.LlamaFileType.MOSTLY_F16),
    "bf16": (GGML.BF16, gguf.LlamaFileType.MOSTLY_BF16),
    "q8_0": (GGML.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
    "q4_0": (GGML.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
}
# litft's family (hf_config.family_of_litgpt) -> llama.cpp's architecture; llama.cpp runs Mistral as "llama".
ARCHITECTURES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "gpt_neox": "gptneox"}
# Hugging Face names -> GGUF names: gguf_import's tables, inverted ("{}" is the block number).
GGUF_NAMES = {
    "llama": {hf: name for name, hf in LLAMA_NAMES.items()},
    "gpt_neox": {hf: name for name, hf in GPT_NEOX_NAMES.items()},
}
ROPE_FREQS = "rope_freqs.weight"
LLAMA3_ROPE = ("factor", "low_freq_factor", "high_freq_factor", "original_max_seq_len")


@dataclass
class PlannedTensor:
    """A tensor of the file: its GGUF name, shape, type, and how to get its values when it is written."""

    name: str
    shape: tuple[int, ...]
    qtype: GGML
    values: Callable[[], torch.Tensor]


def gguf_architecture(config: Any) -> tuple[str, str]:
    """litft's family of the config and llama.cpp's architecture for it; one sentence for any other model."""
    try:
        family = family_of_litgpt(config)
    except LitftError:
        family = None
    if family not in ARCHITECTURES:
        raise LitftError(
            f"config {config.name!r} is not of an architecture litft writes as GGUF (Llama, SmolLM, Mistral, "
            "Qwen2, GPT-NeoX); export it with `litft convert lit_to_hf` and llama.cpp's convert_hf_to_gguf.py."
        )
    return family, ARCHITECTURES[family]


def gguf_name(hf_name: str, family: str, config: Any) -> tuple[str, Callable[[torch.Tensor], torch.Tensor] | None]:
    """The GGUF name of a Hugging Face weight and the reordering of its rows llama.cpp expects (or None)."""
    parts = hf_name.split(".")
    block = next((part for part in parts if part.isdigit()), None)
    template = ".".join("{}" if part == block else part for part in parts)
    table = GGUF_NAMES["gpt_neox" if family == "gpt_neox" else "llama"]
    if template not in table:
        raise LitftError(f"weight {hf_name!r} has no place in a GGUF {family} model; litft cannot export it.")
    name = table[template].format(block)
    if family == "gpt_neox" and ".attn_qkv." in name:
        return name, partial(group_gpt_neox_qkv, n_head=config.n_head)
    if ARCHITECTURES[family] == "llama" and (".attn_q." in name or ".attn_k." in name):
        return name, partial(permute_rope_rows, n_head=config.n_head if ".attn_q." in name else config.n_query_groups)
    return name, None


def tensor_type(name: str, shape: tuple[int, ...], wanted: GGML, output_layer: bool) -> GGML:
    """convert_hf_to_gguf.py's choice: vectors (norms, biases) in f32; matrices in `wanted`, but f16 where a row is
    not a whole number of quantization blocks. With q4_0 the output layer is q8_0, as llama-quantize also keeps it
    above the other layers' precision (it uses q6_k, which gguf cannot write)."""
    if len(shape) == 1:
        return GGML.F32
    if wanted == GGML.Q4_0 and output_layer:
        wanted = GGML.Q8_0
    if shape[-1] % gguf.GGML_QUANT_SIZES[wanted][0]:
        return GGML.F16
    return wanted


def encode(tensor: torch.Tensor, qtype: GGML) -> np.ndarray:
    """The bytes of `tensor` in `qtype` (f16 and bf16 by torch, which rounds as llama.cpp does; the block
    quantizations by gguf's own)."""
    if qtype == GGML.F16:
        return tensor.to(torch.float16).contiguous().numpy()
    if qtype == GGML.BF16:
        return tensor.to(torch.bfloat16).contiguous().view(torch.int16).numpy().view(np.uint8)
    values = tensor.to(torch.float32).contiguous().numpy()
    return values if qtype == GGML.F32 else gguf.quants.quantize(values, qtype)


def write_gguf(path: Path, arch: str, add_metadata: Callable[[Any], None], tensors: list[PlannedTensor]) -> None:
    """Stream a GGUF file: header, metadata and tensor infos, then each tensor converted as it is written."""
    writer = gguf.GGUFWriter(path, arch)
    try:
        add_metadata(writer)
        for tensor in tensors:
            block, size = gguf.GGML_QUANT_SIZES[tensor.qtype]
            nbytes = math.prod(tensor.shape) // block * size
            writer.add_tensor_info(tensor.name, tensor.shape, np.float32, nbytes, raw_dtype=tensor.qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for tensor in tensors:
            writer.write_tensor_data(encode(tensor.values(), tensor.qtype))
    finally:
        writer.close()


def model_tensors(info: CheckpointInfo, family: str, wanted: GGML) -> list[PlannedTensor]:
    """The model's tensors (a LoRA run merged) as the GGUF holds them."""
    method = get_method(info.method)
    if method.delta_only:
        from litft.models.merge import merged_state_dict

        lit_weights = merged_state_dict(info)
    else:
        lit_weights = load_state_dict(info.weights_path)
    if any("lora_" in key or "adapter" in key for key in lit_weights):
        raise LitftError(f"{info.weights_path} holds LoRA/adapter weights; merge them with `litft merge_lora` first.")
    tied = embeddings_tied(lit_weights) and family != "gpt_neox"  # llama.cpp's GPT-NeoX always reads output.weight
    hf_weights: dict[str, torch.Tensor] = {}
    _lit_to_hf_copier(info.config, family)(hf_weights, lit_weights)
    tensors = []
    for hf_name, tensor in hf_weights.items():
        name, reorder = gguf_name(hf_name, family, info.config)
        if name == "output.weight" and tied:
            continue  # llama.cpp uses token_embd as the output layer when the file has none
        shape = tuple(tensor.shape)
        output_layer = name == "output.weight" or (tied and name == "token_embd.weight")
        values = partial(reorder or _unchanged, tensor)
        tensors.append(PlannedTensor(name, shape, tensor_type(name, shape, wanted, output_layer), values))
    rope_factors = llama3_rope_factors(info.config)
    if rope_factors is not None:
        tensors.append(PlannedTensor(ROPE_FREQS, tuple(rope_factors.shape), GGML.F32, lambda: rope_factors))
    return sorted(tensors, key=_file_order)


def _unchanged(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _file_order(tensor: PlannedTensor) -> tuple[int, int, str]:
    """convert_hf_to_gguf.py's order: the embedding, the blocks in turn, the final norm and output layer."""
    parts = tensor.name.split(".")
    if parts[0] == "blk":
        return (1, int(parts[1]), tensor.name)
    return (0 if parts[0] in ("token_embd", "rope_freqs") else 2, 0, tensor.name)


def llama3_rope_factors(config: Any) -> torch.Tensor | None:
    """Llama 3.1's RoPE scaling as llama.cpp reads it: a `rope_freqs` tensor of per-frequency divisors, computed
    as convert_hf_to_gguf.py computes it from the same four numbers."""
    adjustments = config.rope_adjustments
    if not adjustments:
        return None
    if set(adjustments) != set(LLAMA3_ROPE):
        raise LitftError(
            f"config {config.name!r} scales RoPE with {sorted(adjustments)}; litft writes Llama 3's scaling "
            f"({', '.join(LLAMA3_ROPE)}) to GGUF only."
        )
    factor, low, high, context = (float(adjustments[key]) for key in LLAMA3_ROPE)
    dim = config.head_size
    freqs = 1.0 / (config.rope_base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factors = []
    for freq in freqs.tolist():
        wavelength = 2 * math.pi / freq
        if wavelength < context / high:
            factors.append(1.0)
        elif wavelength > context / low:
            factors.append(factor)
        else:
            smooth = (context / wavelength - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(factors, dtype=torch.float32)


def add_hyperparameters(writer: Any, config: Any, arch: str) -> None:
    """The keys gguf_import's `hf_config_of` reads, written from litgpt's config."""
    writer.add_context_length(config.block_size)
    writer.add_embedding_length(config.n_embd)
    writer.add_block_count(config.n_layer)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.n_head)
    writer.add_vocab_size(config.padded_vocab_size)
    writer.add_rope_freq_base(float(config.rope_base))
    if config.rope_condense_ratio != 1:  # litgpt divides positions by the ratio: llama.cpp's linear scaling
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(config.rope_condense_ratio))
    if arch == "gptneox":
        writer.add_rope_dimension_count(int(config.rotary_percentage * config.head_size))
        writer.add_parallel_residual(config.parallel_residual)
        writer.add_layer_norm_eps(config.norm_eps)
        return
    writer.add_head_count_kv(config.n_query_groups)
    writer.add_rope_dimension_count(config.head_size)
    writer.add_layer_norm_rms_eps(config.norm_eps)
    if config.head_size != config.n_embd // config.n_head:
        writer.add_key_length(config.head_size)
        writer.add_value_length(config.head_size)


def tokenizer_dir_of(info: CheckpointInfo) -> Path:
    """The folder whose tokenizer the model uses: the run's own, else its base's (as generation picks it)."""
    for directory in (info.path, info.base_dir):
        if directory is not None and any(
            (directory / name).is_file() for name in ("tokenizer.json", "tokenizer.model")
        ):
            return directory
    raise LitftError(f"neither {info.path} nor its base has tokenizer files; a GGUF needs the tokenizer.")


def add_tokenizer(writer: Any, tokenizer_dir: Path, vocab_size: int, chat_template: str | None) -> None:
    """The tokenizer as llama.cpp reads it, with the BOS/EOS ids and BOS rule of litft's own tokenizer."""
    from litft.models.tokenizer import load_tokenizer

    fields = gguf_tokenizer_metadata(tokenizer_dir, vocab_size)
    tokenizer = load_tokenizer(tokenizer_dir)
    writer.add_tokenizer_model(fields["model"])
    writer.add_tokenizer_pre(fields["pre"])
    writer.add_token_list(fields["tokens"])
    writer.add_token_types(fields["token_type"])
    if fields.get("merges"):
        writer.add_token_merges(fields["merges"])
    if "scores" in fields:
        writer.add_token_scores(fields["scores"])
    for key, token_id in special_token_ids(tokenizer_dir, tokenizer, fields["tokens"]).items():
        getattr(writer, f"add_{key}_token_id")(token_id)
    writer.add_add_bos_token(bool(tokenizer.use_bos))
    writer.add_add_eos_token(False)
    if chat_template:
        writer.add_chat_template(chat_template)


def special_token_ids(tokenizer_dir: Path, tokenizer: Any, tokens: list[str]) -> dict[str, int]:
    """bos/eos as litft's tokenizer uses them; pad and unk as tokenizer_config.json names them."""
    from litft.common.io import read_json

    config_path = tokenizer_dir / "tokenizer_config.json"
    config = read_json(config_path) if config_path.is_file() else {}
    ids = {"bos": tokenizer.bos_id, "eos": tokenizer.eos_id}
    for key in ("pad", "unk"):
        value = config.get(f"{key}_token") if isinstance(config, dict) else None
        value = value.get("content") if isinstance(value, dict) else value
        if isinstance(value, str) and value in tokens:
            ids[key] = tokens.index(value)
    return {key: value for key, value in ids.items() if isinstance(value, int)}


def add_general(writer: Any, info: CheckpointInfo, kind: str, total_params: int) -> None:
    """general.* from the checkpoint (name; license, base models, sampling when its folder's model card and
    generation_config.json say them, read by gguf's own Metadata) and litft's mark of its own file."""
    card_dir = next((d for d in (info.path, info.base_dir) if d is not None and (d / "README.md").is_file()), info.path)
    metadata = gguf.Metadata.load(None, card_dir, info.config.name, total_params)
    metadata.set_gguf_meta_model(writer)
    writer.add_type(kind)
    writer.add_string(OWN_KEY, f"litft {__version__} convert lit_to_gguf")  # no local path: the file is shared


def run_llama_quantize(source: Path, target: Path, dtype: str) -> None:
    answer = subprocess.run(
        [shutil.which(LLAMA_QUANTIZE) or LLAMA_QUANTIZE, str(source), str(target), dtype.upper()],
        capture_output=True,
        text=True,
    )
    if answer.returncode != 0:
        last = (answer.stderr or answer.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LitftError(f"{LLAMA_QUANTIZE} failed to make {dtype.upper()} ({last[0]}); the export was not written.")


def check_inputs_kept(output: Path, info: CheckpointInfo) -> None:
    """Refuse an output that is a file of the checkpoint being exported (its weights, tokenizer, config)."""
    for directory in (info.path, info.base_dir):
        if directory is None or not output.exists():
            continue
        if output.resolve().parent == directory.resolve() and not is_own_gguf(output):
            raise LitftError(f"--output {output} is a file of the checkpoint {directory}; write the GGUF elsewhere.")


@torch.inference_mode()
def convert_lit_to_gguf(
    checkpoint_dir: Path, output: Path, dtype: str = "f16", adapter_only: bool = False, overwrite: bool = False
) -> None:
    """Export a litgpt checkpoint or a litft run as a GGUF file for llama.cpp, Ollama and LM Studio.

    Args:
        checkpoint_dir: A litgpt checkpoint or a litft run of a Llama-family (Llama, SmolLM, Mistral), Qwen2 or
            GPT-NeoX model; a LoRA run is merged on the fly (adapter-v2 has no llama.cpp equivalent).
        output: The .gguf file; beside it NAME.Modelfile for Ollama (`ollama create NAME -f NAME.Modelfile`).
        dtype: f32, f16, bf16, q8_0 or q4_0 (written by litft), or a type of llama.cpp's llama-quantize
            (q4_k_m, q5_k_m, q6_k, ...), which must then be on PATH.
        adapter_only: Write a LoRA run's weights alone, as a llama.cpp LoRA adapter for its base's GGUF
            (`llama-cli -m BASE.gguf --lora ADAPTER.gguf`); f32, f16 or bf16.
        overwrite: Replace an --output (and its Modelfile) that litft did not write.
    """
    dtype = check_gguf_dtype(dtype, adapter_only)
    checkpoint_dir, output = Path(checkpoint_dir), Path(output)
    refuse_same_path(checkpoint_dir, output, "--checkpoint_dir", "--output")
    check_gguf_outputs(output, overwrite, adapter_only)
    info = inspect_checkpoint(checkpoint_dir)
    check_inputs_kept(output, info)
    family, arch = gguf_architecture(info.config)
    method = get_method(info.method)
    if adapter_only:
        export_adapter(info, output, dtype, family, arch)
        return
    if method.delta_only and method.merged_weights is None:
        raise LitftError(
            f"{info.method} weights have no llama.cpp equivalent; export the base, or a full or LoRA run, instead."
        )
    if dtype in LLAMA_QUANTIZE_TYPES:
        staging = make_temp_dir(output)
        try:
            unquantized = staging / "f16.gguf"
            notes = write_model(info, unquantized, "f16", family, arch)
            with atomic_path(output) as target:
                run_llama_quantize(unquantized, target, dtype)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    else:
        with atomic_path(output) as target:
            notes = write_model(info, target, dtype, family, arch)
    write_modelfile(info, tokenizer_dir_of(info), output, modelfile_path(output))
    name = modelfile_path(output).name
    print(
        f"Exported {info.path} ({family}, {dtype}) to {output}{notes}.{full_precision_note(info)} For Ollama: "
        f"ollama create {output.stem} -f {name} (beside it)."
    )


def write_model(info: CheckpointInfo, path: Path, dtype: str, family: str, arch: str) -> str:
    """Write the model's GGUF file to `path`; return what the user should know about it (or "")."""
    wanted, file_type = WRITTEN[dtype]
    tensors = model_tensors(info, family, wanted)
    tokenizer_dir = tokenizer_dir_of(info)
    template = chat_template_of(info, tokenizer_dir)

    def add_metadata(writer: Any) -> None:
        add_general(writer, info, gguf.GGUFType.MODEL, sum(math.prod(t.shape) for t in tensors))
        add_hyperparameters(writer, info.config, arch)
        writer.add_file_type(file_type)
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        add_tokenizer(writer, tokenizer_dir, info.config.padded_vocab_size, template)

    write_gguf(path, arch, add_metadata, tensors)
    notes = []
    kept = sum(t.qtype == GGML.F16 and wanted not in (GGML.F16, GGML.F32) for t in tensors)
    if kept:
        notes.append(f"{kept} matrices kept in f16, their rows not a whole number of {dtype} blocks")
    window = info.config.sliding_window_size
    if window and window < info.config.block_size:
        notes.append(f"llama.cpp attends to the whole context where litgpt slides a {window}-token window")
    return f" ({'; '.join(notes)})" if notes else ""


def adapter_tensors(info: CheckpointInfo, family: str, wanted: GGML) -> tuple[list[PlannedTensor], float]:
    """A LoRA run's A and B pairs under llama.cpp's names (`blk.N.attn_q.weight.lora_a`), and their alpha.

    The pairs are the PEFT export's (litgpt's fused qkv split per Hugging Face module, or padded to one rank for
    GPT-NeoX's fused one); B's rows are reordered as the weight's rows are, A (the inputs) is kept. llama.cpp
    scales B·A by alpha / rank with the rank read from B, so alpha is scaled with the rank as in the PEFT config."""
    from litft.models.peft_export import peft_state

    lora = {key: value for key, value in load_state_dict(info.weights_path).items() if ".lora_" in key}
    if not lora:
        raise LitftError(f"{info.weights_path} holds no LoRA weights; check that it is the run's LoRA file.")
    pairs, rank = peft_state(info, info.settings, lora)
    tensors = []
    for key, matrix in pairs.items():  # base_model.model.MODULE.lora_A.weight
        module, part = key.removeprefix("base_model.model.").removesuffix(".weight").rsplit(".lora_", 1)
        name, reorder = gguf_name(f"{module}.weight", family, info.config)
        if name == "output.weight" and _base_tied(info):
            raise LitftError(
                f"{info.path} trains LoRA on the output layer, which its base shares with the embedding; llama.cpp "
                "cannot apply that as an adapter, so export the merged model instead (without --adapter_only)."
            )
        values = partial(reorder if reorder is not None and part == "B" else _unchanged, matrix)
        tensors.append(PlannedTensor(f"{name}.lora_{part.lower()}", tuple(matrix.shape), wanted, values))
    settings = info.settings
    return sorted(tensors, key=_file_order), settings.alpha * rank / settings.r


def _base_tied(info: CheckpointInfo) -> bool:
    return embeddings_tied(load_state_dict(inspect_checkpoint(info.base_dir).weights_path))


def export_adapter(info: CheckpointInfo, output: Path, dtype: str, family: str, arch: str) -> None:
    """Write a LoRA run as a llama.cpp LoRA adapter GGUF (general.type adapter, adapter.type lora)."""
    if not isinstance(info.settings, LoRASettings) or not get_method(info.method).delta_only:
        advice = (
            "adapter-v2 weights have no llama.cpp form: export without --adapter_only is refused too, run it with "
            "litft generate or serve"
            if get_method(info.method).delta_only
            else "export the whole model without --adapter_only"
        )
        raise LitftError(f"{info.path} is a {info.method} checkpoint, not a LoRA run; {advice}.")
    tensors, alpha = adapter_tensors(info, family, WRITTEN[dtype][0])

    def add_metadata(writer: Any) -> None:
        add_general(writer, info, gguf.GGUFType.ADAPTER, 0)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))

    with atomic_path(output) as target:
        write_gguf(target, arch, add_metadata, tensors)
    print(
        f"Exported the LoRA weights of {info.path} ({len(tensors) // 2} modules, {dtype}) as a llama.cpp adapter to "
        f"{output}; load it on the GGUF of its base {info.base_dir}: llama-cli -m BASE.gguf --lora {output.name}."
    )
