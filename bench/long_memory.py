"""Benchmark the memory of LoRA steps on one long record: litft against transformers + peft, each in its own process.

    python bench/long_memory.py            # SmolLM2-135M's shape, one 1,536-token record, 3 rounds
    python bench/long_memory.py --quick    # a 2-layer dim-64 model, 128 tokens, 1 round: a smoke run of the same code

Both sides build a random-init model of SmolLM2-135M's shape (30 layers, dim 576, 9 heads, 3 key/value heads, MLP
1536, vocabulary 49,152) in float32 on the CPU and put LoRA on it with the same settings (r 8, alpha 16, dropout
0.05, on the query and value projections: litft's defaults): litft a litgpt LoRA model as `litft finetune lora`
builds it, with the loss of litft.train.steps and glibc's malloc set as litft.train.loop.fit sets it on the CPU;
transformers a `LlamaForCausalLM` (SDPA attention, tied embeddings as SmolLM2 has them) wrapped by
`peft.get_peft_model`, its loss from `labels`, glibc as it comes. Each then runs 2 AdamW steps on the same batch:
one record of 1,536 random tokens, every position a target (no prompt masked: the most logits either side needs).
Each side and setting runs in its own process, sides alternating over the rounds; medians are reported.
The machine may be shared: memory does not depend on it, the CPU seconds do a little.

Prints one JSON object:
- `long_record_memory_vs_hf`: the steps' peak RSS above the process's RSS before the first step (model and
  optimizer built; Linux: the peak is reset there through /proc/self/clear_refs), litft / transformers+peft, each
  with its defaults (litft's `--activation_checkpointing auto` recomputes the blocks from rows of 1,024 tokens up;
  transformers does not unless asked); target <= 0.5. Also: the ratio without checkpointing on either side, and with
  it on both (`litft --activation_checkpointing true`, transformers' `gradient_checkpointing_enable`); litft's
  checkpointed peak when
  glibc maps blocks from 1 MiB up on their own (`MALLOC_MMAP_THRESHOLD_=1048576`, which litft leaves as the user
  sets it) and the page faults per step that costs; the processes' whole peak RSS, CPU seconds per step, losses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHAPE = dict(n_layer=30, n_embd=576, n_head=9, n_query_groups=3, intermediate_size=1536, vocab_size=49152)
QUICK_SHAPE = dict(n_layer=2, n_embd=64, n_head=4, n_query_groups=2, intermediate_size=128, vocab_size=1024)
SEQUENCE, QUICK_SEQUENCE = 1536, 128
SIDES = ("litft", "hf")
STEPS = 2
ROUNDS = 3
LORA = dict(r=8, alpha=16, dropout=0.05)
# glibc before 2.38 cannot reuse a freed heap block for a posix_memalign (torch's CPU allocation) of the same size, so
# the heap litft keeps for speed (litft.train.host_memory) fragments; blocks from 1 MiB up mapped on their own do not,
# at the cost of faulting them in again every step
MAPPED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def litft_step(shape: dict, length: int, checkpointing: bool):
    """litft's LoRA model and one training step's function, as `litft finetune lora` runs them on the CPU."""
    import torch
    from litgpt.config import Config

    from litft.common.settings import LoRASettings
    from litft.models.build import build_model
    from litft.models.loss import accept_targets
    from litft.models.methods import get_method
    from litft.train.args import OptimizerArgs
    from litft.train.batches import Batch
    from litft.train.fabric_setup import checkpoint_blocks
    from litft.train.host_memory import keep_freed_memory
    from litft.train.schedule import build_optimizer
    from litft.train.steps import token_loss_sum

    config = Config.from_name("SmolLM2-135M", **shape, padded_vocab_size=shape["vocab_size"])
    settings = LoRASettings(**LORA)
    model = build_model("lora", config, settings, dtype=torch.float32)
    model.max_seq_length = length
    accept_targets(model)
    if checkpointing:
        checkpoint_blocks(model, get_method("lora").block_class)
    optimizer = build_optimizer(model, OptimizerArgs(lr=1e-4), torch.device("cpu"))
    keep_freed_memory()  # litft.train.loop.fit on the CPU

    def step(tokens: torch.Tensor) -> float:
        batch = Batch(input_ids=tokens[:, :-1], targets=tokens[:, 1:])
        loss = token_loss_sum(model, batch) / batch.target_tokens
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach().item()

    return step


def hf_step(shape: dict, length: int, checkpointing: bool):
    """transformers' Llama of the same shape with peft's LoRA, and one training step's function."""
    import peft
    import torch
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=shape["vocab_size"],
        hidden_size=shape["n_embd"],
        intermediate_size=shape["intermediate_size"],
        num_hidden_layers=shape["n_layer"],
        num_attention_heads=shape["n_head"],
        num_key_value_heads=shape["n_query_groups"],
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_theta=100000.0,
        tie_word_embeddings=True,
        attn_implementation="sdpa",
    )
    model = transformers.LlamaForCausalLM(config).float()
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora = peft.LoraConfig(
        r=LORA["r"],
        lora_alpha=LORA["alpha"],
        lora_dropout=LORA["dropout"],
        target_modules=["q_proj", "v_proj"],
        task_type="CAUSAL_LM",
    )
    model = peft.get_peft_model(model, lora)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(tokens: torch.Tensor) -> float:
        loss = model(input_ids=tokens[:, :-1], labels=tokens[:, :-1]).loss  # transformers shifts labels itself
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach().item()

    return step


def worker(side: str, shape: dict, length: int, checkpointing: bool) -> dict:
    import ctypes
    import gc
    import resource

    import torch

    started_rss = rss_mib("VmRSS")
    torch.manual_seed(0)
    step = (litft_step if side == "litft" else hf_step)(shape, length, checkpointing)
    # the same record on both sides: `length` inputs, each followed by its target
    tokens = torch.randint(0, shape["vocab_size"], (1, length + 1), generator=torch.Generator().manual_seed(1))
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # what building the model freed goes back on both sides alike
    before = rss_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here on
    faults, started, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter(), time.process_time()
    losses = [step(tokens) for _ in range(STEPS)]
    return {
        "page_faults_per_step": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / STEPS,
        "step_peak_mib": rss_mib("VmHWM") - before,
        "process_peak_mib": rss_mib("VmHWM"),
        "model_mib": before - started_rss,
        "seconds_per_step": (time.perf_counter() - started) / STEPS,
        "cpu_seconds_per_step": (time.process_time() - cpu) / STEPS,
        "losses": losses,
    }


def run_side(side: str, shape: dict, length: int, checkpointing: bool, mapped: bool = False) -> dict:
    """One side in a fresh process, so its peak RSS holds nothing of the other side's."""
    command = [sys.executable, __file__, "--worker", side, "--shape", json.dumps(shape), "--length", str(length)]
    # glibc's own variables, which litft.train.host_memory leaves as the user set them
    env = {**os.environ, **(MAPPED_MALLOC if mapped else {})}
    result = subprocess.run(
        command + (["--checkpointing"] if checkpointing else []), capture_output=True, text=True, check=True, env=env
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(shape: dict, length: int, rounds: int) -> dict[str, list[dict]]:
    """Per setting, one result per round; the two sides alternate (litft first in odd rounds), so a neighbour
    loading the machine hits both alike."""
    results = {"plain": [], "checkpointing": [], "mapped": []}
    for index in range(rounds):
        order = SIDES if index % 2 == 0 else SIDES[::-1]
        results["plain"].append({side: run_side(side, shape, length, False) for side in order})
        results["checkpointing"].append({side: run_side(side, shape, length, True) for side in order})
        results["mapped"].append({"litft": run_side("litft", shape, length, True, mapped=True)})
    return results


def median(results: list[dict], side: str, key: str) -> float:
    return statistics.median(result[side][key] for result in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 2-layer model, 128 tokens, 1 round (CI)")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--shape", type=json.loads, help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--checkpointing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.shape, args.length, args.checkpointing)))
        return
    from litft.train.job import AUTO_CHECKPOINTING_TOKENS

    shape, length, rounds = (QUICK_SHAPE, QUICK_SEQUENCE, 1) if args.quick else (SHAPE, SEQUENCE, args.rounds)
    results = measure(shape, length, rounds)
    plain, checkpointed, mapped = results["plain"], results["checkpointing"], results["mapped"]
    peak = {side: median(plain, side, "step_peak_mib") for side in SIDES}
    checkpointed_peak = {side: median(checkpointed, side, "step_peak_mib") for side in SIDES}
    # litft's default (--activation_checkpointing auto) turns checkpointing on from rows of this length;
    # transformers' Trainer leaves gradient checkpointing off unless asked
    litft_checkpoints = length >= AUTO_CHECKPOINTING_TOKENS
    default_peak = {"litft": (checkpointed_peak if litft_checkpoints else peak)["litft"], "hf": peak["hf"]}
    default_cpu = {
        "litft": median(checkpointed if litft_checkpoints else plain, "litft", "cpu_seconds_per_step"),
        "hf": median(plain, "hf", "cpu_seconds_per_step"),
    }
    print(
        json.dumps(
            {
                "name": "long_record_memory_vs_hf",
                "ratio": round(default_peak["litft"] / default_peak["hf"], 3),
                "target": 0.5,
                "litft_default_checkpointing": litft_checkpoints,
                "step_peak_mib": {side: round(default_peak[side], 1) for side in SIDES},
                "cpu_seconds_per_step": {side: round(default_cpu[side], 2) for side in SIDES},
                "without_checkpointing_ratio": round(peak["litft"] / peak["hf"], 3),
                "without_checkpointing_step_peak_mib": {side: round(peak[side], 1) for side in SIDES},
                "with_checkpointing_ratio": round(checkpointed_peak["litft"] / checkpointed_peak["hf"], 3),
                "with_checkpointing_step_peak_mib": {side: round(checkpointed_peak[side], 1) for side in SIDES},
                "litft_mapped_malloc_with_checkpointing_step_peak_mib": round(
                    median(mapped, "litft", "step_peak_mib"), 1
                ),
                "litft_with_checkpointing_heap_vs_mapped": {
                    key: [round(median(results, "litft", key), 2) for results in (checkpointed, mapped)]
                    for key in ("page_faults_per_step", "cpu_seconds_per_step")
                },
                "process_peak_mib": {side: round(median(plain, side, "process_peak_mib"), 1) for side in SIDES},
                "model_mib": {side: round(median(plain, side, "model_mib"), 1) for side in SIDES},
                "without_checkpointing_cpu_seconds_per_step": {
                    side: round(median(plain, side, "cpu_seconds_per_step"), 2) for side in SIDES
                },
                "losses": {side: [round(loss, 4) for loss in plain[0][side]["losses"]] for side in SIDES},
                "model": f"SmolLM2-135M shape ({shape['n_layer']} layers, dim {shape['n_embd']}, vocab "
                f"{shape['vocab_size']}), random init, fp32, CPU; LoRA r8 q+v; 1 record x {length} tokens, all targets",
                "steps": STEPS,
                "rounds": rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
