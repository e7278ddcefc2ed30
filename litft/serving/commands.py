"""`litft serve` as the CLI sees it: the host, port, key and paths are checked before torch is imported."""

from __future__ import annotations

from pathlib import Path

from litft.common.checks import check_bind, require_dir
from litft.common.errors import LitftError
from litft.common.settings import Precision, Quantize
from litft.retrieval.settings import check_index_dir
from litft.serving.checks import check_api_key


def serve(
    checkpoint_dir: Path,
    port: int = 8000,
    host: str = "127.0.0.1",
    rag: Path | None = None,
    rag_k: int = 3,
    max_batch_size: int = 8,
    api_key_env: str | None = None,
    model_name: str | None = None,
    prompt_style: str | None = None,
    base_dir: Path | None = None,
    device: str = "auto",
    precision: Precision | None = None,
    quantize: Quantize | None = None,
) -> None:
    """Serve a checkpoint or a fine-tuning run over an OpenAI-compatible HTTP API (chat and completions,
    streamed or not); concurrent requests decode together in one continuously batched KV cache.

    Args:
        checkpoint_dir: A litgpt checkpoint or a full, LoRA or adapter-v2 run directory.
        port: TCP port to listen on.
        host: Address to bind; anything but loopback needs --api_key_env.
        rag: A retrieval index (`litft index build`): each question's best chunks go into its prompt.
        rag_k: Chunks retrieved per question with --rag.
        max_batch_size: Requests decoded together (rows of the KV cache).
        api_key_env: Environment variable holding the key clients must send as `Authorization: Bearer KEY`.
        model_name: The model id clients name (default: the checkpoint directory's name).
        prompt_style: Override the prompt style saved with the checkpoint.
        base_dir: Base checkpoint for a LoRA/adapter run, when it moved.
        device: auto, cpu, cuda, cuda:N or mps.
        precision: 32-true, 16-true or bf16-true.
        quantize: Load the frozen weights with bitsandbytes (bnb.nf4, bnb.nf4-dq, bnb.fp4, bnb.fp4-dq, bnb.int8; CPU or
            CUDA) or `none` for full precision (default: as the run was trained, e.g. a QLoRA run's bnb.nf4).
    """
    require_dir(checkpoint_dir, "checkpoint_dir", "check the path or download/convert a model first")
    require_dir(base_dir, "--base_dir", "check the path of the base checkpoint")
    if rag is not None:
        check_index_dir(rag, "--rag")
    if rag_k < 1:
        raise LitftError(f"--rag_k must be at least 1, got {rag_k}.")
    if max_batch_size < 1:
        raise LitftError(f"--max_batch_size must be at least 1, got {max_batch_size}.")
    check_api_key(host, api_key_env)
    check_bind(host, port)
    from litft.serving.server import serve as implementation

    implementation(
        checkpoint_dir,
        port,
        host,
        rag,
        rag_k,
        max_batch_size,
        api_key_env,
        model_name,
        prompt_style,
        base_dir,
        device,
        precision,
        quantize,
    )
