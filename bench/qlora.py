"""Benchmark QLoRA against LoRA: the same LoRA steps on a bf16 base and on an NF4 base, each in its own process.

    python bench/qlora.py            # 1 warm-up and 2 timed steps per process
    python bench/qlora.py --quick    # a 2-layer dim-128 model, 1 step, 1 round: a smoke run of the same code (CI)

The model is a random-init litgpt model of TinyLlama-1.1B's shape (22 layers, dim 2048, 32 heads, 4 query groups, MLP
5632, vocab 32000), saved once as a bf16 checkpoint. Each side loads it the way `litft finetune lora` does (bf16: the
plain LoRA model; NF4: litft.models.quantize, layer by layer, with double quantization as the reference QLoRA recipe),
then runs LoRA steps (r 8 on query and value, micro batch 1 x 128 tokens, bf16, AdamW, the loss of litft.train.steps)
on the CPU, with glibc's malloc set as litft.train.loop.fit sets it on the CPU (litft.train.host_memory: the NF4
base's weight copies mapped on their own) and with activation checkpointing as the QLoRA recipe trains
(`--activation_checkpointing true`: each block recomputed in backward, litft.train.fabric_setup.checkpoint_blocks);
each side also runs without it, for the ratio in the notes. Each side and setting runs in ROUNDS processes, sides
alternating, and the medians are reported: one, as the heap layout's process-to-process variation (tens of MiB) is
small beside this model's GiBs; and few steps, as the figure is memory. Prints one JSON object per line:
- `qlora_base_memory_vs_lora`: peak RSS during the steps above the process's RSS before the model was loaded
  (Linux: the peak is reset after loading through /proc/self/clear_refs), bf16 base / NF4 base; target >= 2.5;
  `tensor_ratio` is the same ratio for the model's tensors alone;
- `qlora_tokens_vs_lora`: training tokens/s, NF4 base / bf16 base (reported only: bitsandbytes dequantizes each
  4-bit layer on every CPU forward; the GPU figure is measured on a GPU).
The machine may be shared: the numbers are ratios measured back to back in one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shapes import QUICK_LLAMA as QUICK_CONFIG
from _shapes import TINYLLAMA as CONFIG

SEQUENCE = 128
# the reference QLoRA recipe's quantization (configs/finetune/qlora): NF4 with the absmax constants quantized too
QUANTIZE = "bnb.nf4-dq"
SIDES = ("bf16", "nf4")
ROUNDS = 1


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def make_checkpoint(root: Path, fields: dict) -> Path:
    import torch

    from litft.models.build import build_model, config_from_fields
    from litft.models.checkpoint import save_checkpoint

    config = config_from_fields(fields, "bench")
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
        model = build_quantized_model("lora", info.config, None, base, None, QUANTIZE, torch.bfloat16, "cpu")
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

    from litft.models.checkpoint import inspect_checkpoint
    from litft.models.quantize import dequantized_copy_bytes, stored_bytes
    from litft.train.args import OptimizerArgs
    from litft.train.batches import Batch
    from litft.train.host_memory import keep_freed_memory
    from litft.train.schedule import build_optimizer
    from litft.train.steps import token_loss_sum

    torch.manual_seed(0)
    config = inspect_checkpoint(checkpoint).config
    # glibc's thresholds as litft sets them on the CPU (litft.train.host_memory): a quantized run before its model
    # is loaded, with the NF4 base's weight copies mapped on their own (litft.train.job); any other once it is set
    # up (litft.train.loop.fit)
    if side == "nf4":
        keep_freed_memory(map_from=dequantized_copy_bytes("lora", config, None, torch.bfloat16))
    before = rss_kib("VmRSS")
    model = load_lora(checkpoint, side, checkpointing)
    gc.collect()
    optimizer = build_optimizer(model, OptimizerArgs(lr=1e-4), torch.device("cpu"))
    # glibc keeps freed loading buffers (each layer's copy before quantization) mapped; hand them back, so the
    # peak from here on (reset through clear_refs) is the steps', not the loading's
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    keep_freed_memory()
    Path("/proc/self/clear_refs").write_text("5")
    tokens = torch.randint(0, config.vocab_size, (1 + steps, 1, SEQUENCE + 1))
    seconds = 0.0
    for step in range(1 + steps):  # the first step warms up (allocations, bitsandbytes' first calls)
        started = time.perf_counter()
        loss = token_loss_sum(model, Batch(input_ids=tokens[step, :, :-1], targets=tokens[step, :, 1:])) / SEQUENCE
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:
            seconds += time.perf_counter() - started
    return {
        "peak_mib": (rss_kib("VmHWM") - before) / 1024,
        "tokens_per_s": steps * SEQUENCE / seconds,
        "tensor_mib": stored_bytes(model) / 2**20,
    }


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
    parser.add_argument(
        "--quick", action="store_true", help="a 2-layer model, 1 step, 1 round: a smoke run of the same code"
    )
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--checkpointing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.checkpoint, args.worker, args.steps, args.checkpointing)))
        return
    steps, rounds_count, fields = (1, 1, QUICK_CONFIG) if args.quick else (args.steps, ROUNDS, CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = make_checkpoint(Path(tmp), fields)
        # the heap's layout, and with it the peak, varies from process to process: rounds alternate the sides
        rounds = [{side: run_side(checkpoint, side, steps, True) for side in SIDES} for _ in range(rounds_count)]
        # --quick skips the runs without checkpointing (the same worker with one flag off): two process starts fewer
        plain_rounds = (
            []
            if args.quick
            else [{side: run_side(checkpoint, side, steps, False) for side in SIDES} for _ in range(rounds_count)]
        )
    peak = {side: statistics.median(result[side]["peak_mib"] for result in rounds) for side in SIDES}
    speed = {side: statistics.median(result[side]["tokens_per_s"] for result in rounds) for side in SIDES}
    plain = (
        {side: statistics.median(result[side]["peak_mib"] for result in plain_rounds) for side in SIDES}
        if plain_rounds
        else None
    )
    without = (
        f"bf16 {plain['bf16']:.1f} MiB / NF4 {plain['nf4']:.1f} MiB = {plain['bf16'] / plain['nf4']:.3f}"
        if plain
        else "not run (--quick)"
    )
    tensors = rounds[0]
    common = {
        "model": f"{fields['name']} ({fields['n_layer']} layers, dim {fields['n_embd']}), LoRA r8 q+v, "
        f"micro batch 1 x {SEQUENCE} tokens, bf16, CPU",
        "quantize": QUANTIZE,
        "activation_checkpointing": True,
        "steps": steps,
        "rounds": rounds_count,
    }
    notes = (
        f"medians of {rounds_count} processes per side and setting, both with activation checkpointing (the QLoRA "
        f"recipe's setting); without it: {without}; the model's tensors alone: "
        f"bf16 {tensors['bf16']['tensor_mib']:.1f} MiB / NF4 {tensors['nf4']['tensor_mib']:.1f} MiB "
        "(embedding and output layer stay bf16)"
    )
    print(
        json.dumps(
            {
                "name": "qlora_base_memory_vs_lora",
                "ratio": round(peak["bf16"] / peak["nf4"], 3),
                "target": 2.5,
                "bf16_peak_mib": round(peak["bf16"], 1),
                "nf4_peak_mib": round(peak["nf4"], 1),
                "peaks_mib": {side: [round(result[side]["peak_mib"], 1) for result in rounds] for side in SIDES},
                "without_checkpointing_ratio": round(plain["bf16"] / plain["nf4"], 3) if plain else None,
                "tensor_ratio": round(tensors["bf16"]["tensor_mib"] / tensors["nf4"]["tensor_mib"], 3),
                **common,
                "notes": notes,
            }
        )
    )
    print(
        json.dumps(
            {
                "name": "qlora_tokens_vs_lora",
                "ratio": round(speed["nf4"] / speed["bf16"], 3),
                "bf16_tokens_per_s": round(speed["bf16"], 1),
                "nf4_tokens_per_s": round(speed["nf4"], 1),
                **common,
            }
        )
    )


if __name__ == "__main__":
    main()
