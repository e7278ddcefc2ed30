"""Benchmark QLoRA against LoRA: the same LoRA steps on a bf16 base and on an NF4 base, each in its own process.

    python bench/qlora.py            # 4 timed steps per side
    python bench/qlora.py --quick    # 2 timed steps per side

The model is a random-init ~117M-parameter Llama-shaped litgpt model (12 layers, dim 768, MLP 2304, vocab 16384),
saved once as a bf16 checkpoint. Each side loads it the way `litft finetune lora` does (bf16: the plain LoRA model;
NF4: litft.models.quantize, layer by layer), then runs LoRA steps (r 8 on query and value, micro batch 1 x 128
tokens, bf16, AdamW) on the CPU, with activation checkpointing as the QLoRA recipe trains
(`--activation_checkpointing true`: each block recomputed in backward, litft.train.fabric_setup.checkpoint_blocks);
each side also runs once without it, for the ratio in the notes. Prints one JSON object per line:
- `qlora_base_memory_vs_lora`: peak RSS during the steps above the process's RSS before the model was loaded
  (Linux: the peak is reset after loading through /proc/self/clear_refs), bf16 base / NF4 base; target >= 1.8;
- `qlora_tokens_vs_lora`: training tokens/s, NF4 base / bf16 base (reported only: bitsandbytes dequantizes each
  4-bit layer on every CPU forward; the GPU figure is measured on a GPU).
The machine may be shared: the numbers are ratios measured back to back in one run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = dict(
    name="bench-llama-117m",
    block_size=512,
    n_layer=12,
    n_embd=768,
    n_head=12,
    n_query_groups=12,
    vocab_size=16384,
    padding_multiple=64,
    norm_class_name="RMSNorm",
    norm_eps=1e-5,
    parallel_residual=False,
    bias=False,
    mlp_class_name="LLaMAMLP",
    intermediate_size=2304,
    rotary_percentage=1.0,
)
SEQUENCE = 128


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def make_checkpoint(root: Path) -> Path:
    import torch

    from litft.models.build import build_model, config_from_fields
    from litft.models.checkpoint import save_checkpoint

    config = config_from_fields(CONFIG, "bench")
    torch.manual_seed(0)
    model = build_model("full", config, dtype=torch.bfloat16)
    return save_checkpoint(root / "base", method="full", state_dict=model.state_dict(), config=config)


def load_lora(checkpoint: Path, side: str, checkpointing: bool):
    """The LoRA model on the checkpoint's base: bf16 as `litft finetune lora` builds it, or NF4 layer by layer;
    its blocks checkpointed as the trainer does with --activation_checkpointing."""
    import torch

    from litft.models.build import build_model, load_weights
    from litft.models.checkpoint import inspect_checkpoint, load_state_dict
    from litft.models.methods import get_method
    from litft.models.quantize import build_quantized_model
    from litft.train.fabric_setup import checkpoint_blocks

    info = inspect_checkpoint(checkpoint)
    base = load_state_dict(info.weights_path)
    if side == "nf4":
        model = build_quantized_model("lora", info.config, None, base, None, "bnb.nf4", torch.bfloat16, "cpu")
    else:
        model = build_model("lora", info.config, None, dtype=torch.bfloat16)
        load_weights(model, "lora", base)
    del base  # the memory-mapped file is closed once no tensor refers to it
    model.max_seq_length = SEQUENCE
    if checkpointing:
        checkpoint_blocks(model, get_method("lora").block_class)
    return model


def worker(checkpoint: Path, side: str, steps: int, checkpointing: bool) -> dict:
    import ctypes
    import gc

    # bitsandbytes and litft imported before the baseline on both sides, as `litft finetune lora --quantize` imports
    # bitsandbytes (check_quantize) before it loads the model: its import (with torch._dynamo, ~45 MiB) is a fixed
    # cost of the process, not of the base; litft.models.quantize imports it lazily, so it is imported by name here
    import bitsandbytes  # noqa: F401
    import torch
    import torch.nn.functional as F

    import litft.models.quantize  # noqa: F401
    from litft.train.args import OptimizerArgs
    from litft.train.schedule import build_optimizer

    torch.manual_seed(0)
    before = rss_kib("VmRSS")
    model = load_lora(checkpoint, side, checkpointing)
    gc.collect()
    optimizer = build_optimizer(model, OptimizerArgs(lr=1e-4), torch.device("cpu"))
    # glibc keeps freed loading buffers (each layer's copy before quantization) mapped; hand them back, so the
    # peak from here on (reset through clear_refs) is the steps', not the loading's
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    tokens = torch.randint(0, CONFIG["vocab_size"], (1 + steps, 1, SEQUENCE + 1))
    seconds = 0.0
    for step in range(1 + steps):  # the first step warms up (allocations, bitsandbytes' first calls)
        started = time.perf_counter()
        logits = model(tokens[step, :, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), tokens[step, :, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:
            seconds += time.perf_counter() - started
    return {"peak_mib": (rss_kib("VmHWM") - before) / 1024, "tokens_per_s": steps * SEQUENCE / seconds}


def run_side(checkpoint: Path, side: str, steps: int, checkpointing: bool) -> dict:
    """One side in a fresh process, so its peak RSS holds nothing of the other side's."""
    flags = ["--checkpointing"] if checkpointing else []
    result = subprocess.run(
        [sys.executable, __file__, "--worker", side, "--checkpoint", str(checkpoint), "--steps", str(steps), *flags],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 timed steps per side instead of 4")
    parser.add_argument("--worker", choices=("bf16", "nf4"), help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument("--checkpointing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.checkpoint, args.worker, args.steps, args.checkpointing)))
        return
    steps = 2 if args.quick else args.steps
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = make_checkpoint(Path(tmp))
        bf16, nf4 = run_side(checkpoint, "bf16", steps, True), run_side(checkpoint, "nf4", steps, True)
        plain = {side: run_side(checkpoint, side, steps, False)["peak_mib"] for side in ("bf16", "nf4")}
    common = {
        "model": "117M Llama-shaped, LoRA r8 q+v, micro batch 1 x 128 tokens, bf16, CPU",
        "activation_checkpointing": True,
        "steps": steps,
    }
    notes = (
        "both sides with activation checkpointing (the QLoRA recipe's setting); without it: "
        f"bf16 {plain['bf16']:.1f} MiB / NF4 {plain['nf4']:.1f} MiB = {plain['bf16'] / plain['nf4']:.3f}"
    )
    print(
        json.dumps(
            {
                "name": "qlora_base_memory_vs_lora",
                "ratio": round(bf16["peak_mib"] / nf4["peak_mib"], 3),
                "target": 1.8,
                "bf16_peak_mib": round(bf16["peak_mib"], 1),
                "nf4_peak_mib": round(nf4["peak_mib"], 1),
                "without_checkpointing_ratio": round(plain["bf16"] / plain["nf4"], 3),
                **common,
                "notes": notes,
            }
        )
    )
    print(
        json.dumps(
            {
                "name": "qlora_tokens_vs_lora",
                "ratio": round(nf4["tokens_per_s"] / bf16["tokens_per_s"], 3),
                "bf16_tokens_per_s": round(bf16["tokens_per_s"], 1),
                "nf4_tokens_per_s": round(nf4["tokens_per_s"], 1),
                **common,
            }
        )
    )


if __name__ == "__main__":
    main()
