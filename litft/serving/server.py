"""`litft serve`: load a checkpoint or run once, then answer OpenAI-style requests with uvicorn until stopped
(every wait on a client bounded: litft.common.webserver)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from litft.common.settings import Precision, Quantize
from litft.common.webserver import ConnectionLimits, run, running
from litft.generation.continuous import ContinuousDecoder
from litft.generation.generate import LoadedModel
from litft.serving.app import Engine, create_app
from litft.serving.batcher import Batcher
from litft.serving.checks import check_api_key


def build_engine(
    checkpoint_dir: Path,
    model_name: str | None = None,
    max_batch_size: int = 8,
    rag: Path | None = None,
    rag_k: int = 3,
    api_key: str | None = None,
    prompt_style: str | None = None,
    base_dir: Path | None = None,
    device: str = "auto",
    precision: Precision | None = None,
    quantize: Quantize | None = None,
) -> Engine:
    """The model loaded and its batcher running (stop it with `engine.batcher.stop()`)."""
    retrieve = None
    if rag is not None:  # before the model: a damaged index is refused at once
        from litft.retrieval.index import RetrievalIndex

        index = RetrievalIndex.load(rag, "--rag")
        retrieve = lambda question: index.search(question, rag_k)  # noqa: E731
    loaded = LoadedModel(checkpoint_dir, base_dir, device, precision, quantize, prompt_style)
    batcher = Batcher(ContinuousDecoder(loaded.model, max_batch_size))
    batcher.start()
    name = model_name or Path(checkpoint_dir).resolve().name
    return Engine(name, loaded, batcher, api_key, retrieve)


@contextlib.contextmanager
def running_server(
    engine: Engine, host: str = "127.0.0.1", port: int = 0, limits: ConnectionLimits = ConnectionLimits()
) -> Iterator[str]:
    """The app served in a thread of this process, as `serve` serves it; yields its base URL (`http://host:port/v1`)."""
    with running(create_app(engine), host, port, limits) as bound:
        yield f"http://{host}:{bound}/v1"


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
    api_key = check_api_key(host, api_key_env)
    engine = build_engine(
        checkpoint_dir,
        model_name,
        max_batch_size,
        rag,
        rag_k,
        api_key,
        prompt_style,
        base_dir,
        device,
        precision,
        quantize,
    )
    print(f"serving {engine.loaded.describe()} as {engine.model_name!r}", file=sys.stderr)
    print(f"OpenAI-compatible API at http://{host}:{port}/v1 (Ctrl-C stops)", file=sys.stderr)
    try:
        run(create_app(engine), host, port)
    finally:
        engine.batcher.stop()
