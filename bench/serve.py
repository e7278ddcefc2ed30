"""serve_concurrent_vs_sequential: generated tokens/s of `litft serve` with 8 concurrent streaming clients against
the same 8 requests sent one after another, same server, same model, CPU.

The model is a random Llama-shaped litgpt checkpoint (6 layers, dim 512, GQA, about 20M parameters) with a BPE
tokenizer, built by bench/generate.py's builder. The server runs in this process as `litft serve` runs it
(uvicorn in a thread, the batcher in another); the clients run in a second process (this script with
`--clients URL`), so their Python does not compete with the server's for one interpreter lock. They are the
real `openai` client, streaming, greedy, EOS ignored so every request generates exactly `--new_tokens`; both
sides are measured against the same server. Also printed: p50/p95 time to first token at 8 concurrent clients.

    python bench/serve.py [--threads N] [--new_tokens N] [--repeats N]
    python bench/serve.py --quick   # 1 layer, dim 64, 4 tokens: a smoke run of the same code (CI runs it)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


PROMPTS = [
    "The school of engineering offers programs in",
    "Students apply before the March deadline by",
    "Tuition and scholarships for the software engineering",
    "The research labs on campus study",
    "Mechanical and civil engineering courses cover",
    "Faculty members in electrical engineering teach",
    "Admissions to the graduate programs require",
    "The library and student life offices are",
]


def ask(client, prompt: str, new_tokens: int) -> tuple[float, float, int]:
    """Streams one completion: (seconds to the first text, seconds in all, tokens generated)."""
    start = time.perf_counter()
    first, tokens = None, 0
    stream = client.completions.create(
        model="bench",
        prompt=prompt,
        max_tokens=new_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].text and first is None:
            first = time.perf_counter() - start
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return first or 0.0, time.perf_counter() - start, tokens


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_clients(base_url: str, new_tokens: int, repeats: int) -> None:
    """The client process: a warm-up, then `repeats` rounds of the requests one after another and all at once
    (alternating, so a machine whose load changes weighs on both sides); each side's fastest round as JSON."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    ask(client, PROMPTS[0], 4)  # warm-up
    best: dict[str, list] = {}
    for _ in range(repeats):
        start = time.perf_counter()
        sequential = [ask(client, prompt, new_tokens) for prompt in PROMPTS]
        rounds = {"sequential": (time.perf_counter() - start, sequential)}
        start = time.perf_counter()
        with ThreadPoolExecutor(len(PROMPTS)) as pool:
            concurrent = list(pool.map(lambda p: ask(client, p, new_tokens), PROMPTS))
        rounds["concurrent"] = (time.perf_counter() - start, concurrent)
        for side, (seconds, answers) in rounds.items():
            if side not in best or seconds < best[side][0]:
                best[side] = [seconds, answers]
    print(json.dumps(best))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 layer, dim 64, 4 new tokens per request: a smoke run of the same code"
    )
    parser.add_argument("--new_tokens", type=int, default=None, help="tokens per request (default 96, quick 4)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="alternating rounds, best of each (default 3, quick 1)"
    )
    parser.add_argument("--clients", metavar="URL", help=argparse.SUPPRESS)  # the client process (see run_clients)
    args = parser.parse_args()
    new_tokens = args.new_tokens or (4 if args.quick else 96)
    repeats = args.repeats or (1 if args.quick else 3)
    if args.clients:
        return run_clients(args.clients, new_tokens, repeats)

    import torch

    from generate import build_model
    from litft.serving.server import build_engine, running_server

    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        size = dict(vocab=1024, n_layer=1, n_embd=64) if args.quick else dict(vocab=4096, n_layer=6, n_embd=512)
        checkpoint = build_model(Path(tmp), **size)
        engine = build_engine(checkpoint, model_name="bench", max_batch_size=len(PROMPTS), device="cpu")
        engine.loaded.stop_tokens = []  # every request generates exactly new_tokens
        parameters = sum(p.numel() for p in engine.loaded.model.parameters())
        try:
            with running_server(engine) as base_url:
                command = [sys.executable, __file__, "--clients", base_url, "--new_tokens", str(new_tokens)]
                command += ["--repeats", str(repeats)]
                timings = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        finally:
            engine.batcher.stop()
    sequential_seconds, sequential = timings["sequential"]
    concurrent_seconds, concurrent = timings["concurrent"]
    sequential_rate = sum(r[2] for r in sequential) / sequential_seconds
    concurrent_rate = sum(r[2] for r in concurrent) / concurrent_seconds
    ttft = [r[0] for r in concurrent]
    result = {
        "name": "serve_concurrent_vs_sequential",
        "ratio": round(concurrent_rate / sequential_rate, 2),
        "target": 2.5,
        "concurrent_tokens_per_s": round(concurrent_rate, 1),
        "sequential_tokens_per_s": round(sequential_rate, 1),
        "clients": len(PROMPTS),
        "new_tokens": new_tokens,
        "repeats": repeats,
        "ttft_p50_s": round(percentile(ttft, 50), 3),
        "ttft_p95_s": round(percentile(ttft, 95), 3),
        "parameters": parameters,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
