"""The model commands as the CLI sees them: convert, merge_lora, generate and chat.

Their implementations import torch and litgpt (8-13 s). These entry points have the same signatures and
help (tests/test_cli.py holds them equal), so the CLI builds its parser without torch; each checks its paths
and cheap values first, then imports the implementation and hands it the arguments unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litft.common.checks import check_shard_size, require_dir, require_file
from litft.common.errors import LitftError
from litft.common.io import refuse_same_path
from litft.common.outputs import check_output_dir, claim_output_file
from litft.common.settings import CHAT_SAMPLING, GENERATION_SAMPLING, DType, Precision, Quantize, SamplingSettings

MODEL_HINT = "check the path or download/convert a model first"


def convert_hf_checkpoint(
    checkpoint_dir: Path, model_name: str | None = None, dtype: DType | None = None, overwrite: bool = False
) -> None:
    """Convert a Hugging Face model directory to litgpt's format, in place (as litgpt lays it out).

    Args:
        checkpoint_dir: Directory with config.json and safetensors/bin weights; receives lit_model.pth and
            model_config.yaml beside them.
        model_name: litgpt config name; by default the directory's name, else derived from config.json
            (Llama, Mistral, Qwen2, GPT-NeoX).
        dtype: Convert the weights to this dtype; by default they keep the dtype they were saved in.
        overwrite: Replace a lit_model.pth / model_config.yaml that litft did not write (e.g. litgpt's own conversion).
    """
    require_dir(checkpoint_dir, "--checkpoint_dir", "check the path or download the model first")
    from litft.models.convert import convert_hf_checkpoint as implementation

    implementation(checkpoint_dir, model_name, dtype, overwrite)


def convert_lit_checkpoint(
    checkpoint_dir: Path, output_dir: Path, max_shard_size: str = "5GB", overwrite: bool = False
) -> None:
    """Export a litgpt checkpoint as a directory transformers loads directly.

    Args:
        checkpoint_dir: A litgpt checkpoint or a litft run (a LoRA run is merged on the fly; adapter-v2 has
            no Hugging Face equivalent). A QLoRA run is merged into its full-precision base, so the export is
            full precision.
        output_dir: Receives config.json, model.safetensors (sharded above `max_shard_size`) and the tokenizer.
        max_shard_size: Largest safetensors shard, e.g. "5GB" or "500MB".
        overwrite: Write into an output_dir that holds files litft did not write (only the export's files are replaced).
    """
    check_shard_size(max_shard_size)
    require_dir(checkpoint_dir, "--checkpoint_dir", MODEL_HINT)
    from litft.models.convert import convert_lit_checkpoint as implementation

    implementation(checkpoint_dir, output_dir, max_shard_size, overwrite)


def convert_lit_to_peft(checkpoint_dir: Path, output_dir: Path, overwrite: bool = False) -> None:
    """Export a LoRA run's weights as a PEFT adapter for its base's Hugging Face export (`litft convert lit_to_hf`
    of the base): adapter_config.json + adapter_model.safetensors, as peft, transformers and vLLM load them.

    Args:
        checkpoint_dir: A LoRA run directory (lit_model.pth.lora + hyperparameters.yaml naming the base).
        output_dir: Receives adapter_config.json and adapter_model.safetensors.
        overwrite: Write into an output_dir that holds files litft did not write (only the adapter files are replaced).
    """
    require_dir(checkpoint_dir, "--checkpoint_dir", "check the path of the LoRA run")
    refuse_same_path(checkpoint_dir, output_dir, "--checkpoint_dir", "--output_dir")
    from litft.models.peft_export import convert_lit_to_peft as implementation

    implementation(checkpoint_dir, output_dir, overwrite)


def convert_gguf_checkpoint(gguf: Path, output_dir: Path, dtype: DType | None = None, overwrite: bool = False) -> None:
    """Import a GGUF model file (llama.cpp, Ollama) as a litgpt checkpoint with the tokenizer it defines.

    Args:
        gguf: The .gguf file of a Llama-family (Llama, SmolLM, Mistral), Qwen2/2.5 or GPT-NeoX model; quantized
            weights (Q4_0, Q4_K, Q8_0, ...) are dequantized.
        output_dir: Receives lit_model.pth, model_config.yaml, tokenizer.json with tokenizer_config.json and
            generation_config.json, and prompt_style.yaml when the GGUF has a chat template.
        dtype: Store the weights in this dtype; by default float32, which holds the dequantized values exactly.
        overwrite: Write into an output_dir that holds files litft did not write (only the checkpoint's files
            are replaced).
    """
    require_file(gguf, "--gguf", "give the path of a .gguf model file")
    check_output_dir(output_dir, "checkpoint", overwrite=overwrite, inputs=(gguf,), flag="--output_dir")
    from litft.models.gguf_import import convert_gguf_checkpoint as implementation

    implementation(gguf, output_dir, dtype, overwrite)


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
    from litft.models.gguf_outputs import check_gguf_dtype, check_gguf_outputs

    check_gguf_dtype(dtype, adapter_only)
    require_dir(checkpoint_dir, "--checkpoint_dir", MODEL_HINT)
    refuse_same_path(checkpoint_dir, output, "--checkpoint_dir", "--output")
    check_gguf_outputs(output, overwrite, adapter_only)
    from litft.models.gguf_export import convert_lit_to_gguf as implementation

    implementation(checkpoint_dir, output, dtype, adapter_only, overwrite)


def merge_lora(
    checkpoint_dir: Path, out_dir: Path | None = None, base_dir: Path | None = None, overwrite: bool = False
) -> None:
    """Merge a LoRA run's weights into its base model.

    Args:
        checkpoint_dir: The LoRA run directory (lit_model.pth.lora + hyperparameters.yaml naming the base). A QLoRA
            run is merged into its full-precision base, so the result is full precision.
        out_dir: Where to write the merged full checkpoint; by default lit_model.pth is added to the run
            directory itself, as `litgpt merge_lora` does.
        base_dir: The base checkpoint, when it moved since training (default: the one the run recorded).
        overwrite: Write into an --out_dir that holds files litft did not write (only checkpoint files are replaced).
    """
    require_dir(checkpoint_dir, "--checkpoint_dir", "check the path of the LoRA run")
    require_dir(base_dir, "--base_dir", MODEL_HINT)
    from litft.models.merge import merge_lora as implementation

    implementation(checkpoint_dir, out_dir, base_dir, overwrite)


def _check_rag(rag: Path | None, rag_k: int) -> None:
    from litft.retrieval.settings import check_index_dir, check_k

    if rag is not None:
        check_index_dir(rag, "--rag")
    check_k(rag_k, "--rag_k")


def generate(
    checkpoint_dir: Path,
    prompt: str | None = None,
    prompts_file: Path | None = None,
    output: Path | None = None,
    sampling: SamplingSettings = GENERATION_SAMPLING,
    prompt_style: str | None = None,
    base_dir: Path | None = None,
    device: str = "auto",
    precision: Precision | None = None,
    quantize: Quantize | None = None,
    batch_size: int = 8,
    stream: bool = True,
    quiet: bool = False,
    messages: Path | None = None,
    rag: Path | None = None,
    rag_k: int = 3,
    overwrite: bool = False,
) -> list[Any]:  # litft.generation.generate.Completion records
    """Generate text from a checkpoint or a fine-tuning run (full, LoRA or adapter-v2: read from the run dir).

    Args:
        checkpoint_dir: A litgpt checkpoint or a litft/litgpt fine-tuning output directory.
        prompt: One prompt; its answer streams to stdout.
        prompts_file: Many prompts: a .txt file (one per line) or JSON/JSONL instruction records; decoded in batches.
        output: With --prompts_file, write the answers here as JSONL instead of printing them.
        sampling: How tokens are chosen and when an answer stops (e.g. --sampling.temperature 0 for greedy).
        prompt_style: Override the prompt style saved with the checkpoint (alpaca, qa, chat_template, a litgpt
            style name; `default` sends the prompt unchanged).
        base_dir: Base checkpoint for a LoRA/adapter run, when it moved from where the run recorded it.
        device: auto, cpu, cuda, cuda:N or mps.
        precision: 32-true, 16-true or bf16-true (default: bf16/16-bit on GPU, 32-bit on CPU).
        quantize: Load the frozen weights with bitsandbytes (bnb.nf4, bnb.nf4-dq, bnb.fp4, bnb.fp4-dq, bnb.int8; CPU or
            CUDA) or `none` for full precision (default: as the run was trained, e.g. a QLoRA run's bnb.nf4).
        batch_size: Prompts decoded together with --prompts_file.
        stream: Print the answer to a single --prompt as it is generated.
        quiet: No progress bar or statistics on stderr.
        messages: Answer conversations instead: a JSON {"messages": [...]} record (or its list of turns), or
            JSONL of them, each ending with a user turn; rendered with the prompt style as training rendered them.
        rag: A retrieval index (`litft index build`): each prompt carries its top --rag_k chunks in the layout
            of `prepare finetune --rag` and `evaluate --rag` (sources are printed on stderr; --output records
            their ids).
        rag_k: Chunks retrieved per prompt with --rag.
        overwrite: Replace an --output file that litft did not write.
    """
    arguments = dict(locals())  # exactly the parameters, passed on unchanged
    require_dir(checkpoint_dir, "--checkpoint_dir", MODEL_HINT)
    require_dir(base_dir, "--base_dir", MODEL_HINT)
    require_file(prompts_file, "--prompts_file")
    require_file(messages, "--messages")
    _check_rag(rag, rag_k)
    if output is not None:
        if prompts_file is not None:
            refuse_same_path(prompts_file, output, "--prompts_file", "--output")
        if messages is not None:
            refuse_same_path(messages, output, "--messages", "--output")
        claim_output_file(output, overwrite, "--output")
    sampling.validate()
    from litft.generation.generate import generate as implementation

    return implementation(**arguments)


def chat(
    checkpoint_dir: Path,
    sampling: SamplingSettings = CHAT_SAMPLING,
    prompt_style: str | None = None,
    base_dir: Path | None = None,
    device: str = "auto",
    precision: Precision | None = None,
    quantize: Quantize | None = None,
    max_history_tokens: int | None = None,
    rag: Path | None = None,
    rag_k: int = 3,
) -> None:
    """Chat interactively: each prompt's reply streams as it is generated, with the conversation so far in the
    prompt (`/reset` forgets it). Ctrl-D or Ctrl-C at the prompt exits; Ctrl-C during a reply stops that reply.

    Args:
        checkpoint_dir: A litgpt checkpoint or a fine-tuning output directory.
        sampling: How tokens are chosen and when a reply stops.
        prompt_style: Override the prompt style saved with the checkpoint.
        base_dir: Base checkpoint for a LoRA/adapter run, when it moved.
        device: auto, cpu, cuda, cuda:N or mps.
        precision: 32-true, 16-true or bf16-true.
        quantize: bitsandbytes quantization of the frozen weights, or `none` (default: as the run was trained).
        max_history_tokens: Most prompt tokens the conversation may take; the oldest turns are dropped first
            (default: the model's context less --sampling.max_new_tokens).
        rag: A retrieval index: each message is asked with its top --rag_k chunks before it (the conversation
            keeps the message alone), their sources printed after the reply.
        rag_k: Chunks retrieved per message with --rag.
    """
    arguments = dict(locals())  # exactly the parameters, passed on unchanged
    require_dir(checkpoint_dir, "--checkpoint_dir", MODEL_HINT)
    require_dir(base_dir, "--base_dir", MODEL_HINT)
    _check_rag(rag, rag_k)
    if max_history_tokens is not None and max_history_tokens < 1:
        raise LitftError(f"--max_history_tokens {max_history_tokens} must be a positive number of tokens.")
    sampling.validate()
    from litft.generation.chat import chat as implementation

    implementation(**arguments)
