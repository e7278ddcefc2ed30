"""Benchmark litft's training loop against litgpt's, same model, data and batch settings, one process per run.

    python bench/train.py            # 256 instruction records, 64 pretraining steps, 3 rounds
    python bench/train.py --quick    # 8 records, 4 steps, 1 round: a smoke run of the same code (CI runs it)
    python bench/train.py --only pretrain --rounds 5
    python bench/train.py --only qlora

Every measurement runs in its own process, and the two sides alternate over `--rounds` rounds (litft first in
odd rounds, litgpt first in even ones), so a neighbour that loads the machine for a while hits both sides alike.
Each line's `ratio` is the median of the per-round ratios; notes give every round's ratio, the spread (max - min),
the steady-state window and the load average before and after. Prints one JSON object per line:
- `lora_useful_tokens_vs_litgpt`: non-padding tokens/s of `litft finetune lora` against
  `litgpt finetune_lora --precision 32-true --devices 1 --data JSON` on the same records (log-normal lengths,
  median 150 / p95 600 tokens), micro batch 8, max length 1024, one epoch, fp32 CPU, a 4-layer dim-128
  Llama-shaped model. litgpt pads every random batch to its longest record; litft (its default) groups by length.
  The window is the whole epoch after process start and set-up on both sides (litgpt's own "Training Time",
  which includes its 2-batch sanity validation; litft's loop clock). Final validation losses go in notes.
- `lora_packed_useful_tokens_vs_litgpt`: the same with `--data.packing true` (records packed into rows of 1025
  tokens, attention kept within each record; micro batch 4 rows, about the tokens of 8 records).
- `pretrain_tokens_vs_litgpt`: tokens/s of `litft pretrain` against litgpt's pretraining loop
  (`litgpt.pretrain.fit`, eager -- litgpt's `setup` would torch.compile, which on CPU costs minutes of
  compilation) on the same fixed-length windows of the same train.bin, both logging every step. Steady state only:
  the clock starts at the end of step `WARMUP` (process start, set-up, litgpt's sanity validation and the first
  steps excluded on both sides) and stops at the end of the last step.
- `qlora_base_memory_vs_lora`, `qlora_tokens_vs_lora`: bench/qlora.py's lines (peak RSS and tokens/s of a LoRA
  step on a bf16 base against an NF4 base), run last as its own process (`--only qlora` runs just those; --quick
  leaves them to `python bench/qlora.py --quick`, which CI runs on its own).
- `dpo_lora_tokens_vs_trl`, `dpo_lora_tokens_vs_trl_smollm2`: bench/dpo.py's lines (`litft finetune dpo` with LoRA
  against TRL's DPOTrainer + peft), run last as its own process the same way (`--only dpo` runs just those;
  --quick leaves them to `python bench/dpo.py --quick`).

Dependencies: `pip install -e ".[bench]"` (litgpt comes with litft).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WORDS = [f"w{i}" for i in range(600)]
PACKED_MICRO_BATCH = 4  # packed rows of 1025 tokens: about the tokens of 8 records (mean ~430 with the template)
MAX_LENGTH, QUICK_MAX_LENGTH = 1024, 256  # records' longest tokens (--quick: lengths scaled down alike)


def make_checkpoint(root: Path) -> Path:
    """A random-init 4-layer Llama-shaped checkpoint with a word-level-ish BPE tokenizer."""
    import torch

    from litft.models.build import build_model, resolve_config
    from litft.models.checkpoint import save_checkpoint
    from litft.prepare.tokenizer_training import train_tokenizer

    corpus = root / "corpus.txt"
    rng = random.Random(0)
    corpus.write_text(
        "\n".join(" ".join(rng.choice(WORDS) for _ in range(50)) for _ in range(400)) + "\n" + " ".join(WORDS)
    )
    tokenizer_dir = root / "tok"
    train_tokenizer(data=corpus, out=tokenizer_dir, vocab_size=1024, min_frequency=1, split_lines=True, quiet=True)
    config = resolve_config("litft-small-llama", block_size=1024, vocab_size=1024)
    torch.manual_seed(0)
    model = build_model("full", config)
    return save_checkpoint(
        root / "checkpoint", method="full", state_dict=model.state_dict(), config=config, source_dir=tokenizer_dir
    )


def make_records(path: Path, count: int, seed: int, max_length: int) -> None:
    """Alpaca-style records whose token lengths are log-normal: median 150, 95th percentile 600 (at MAX_LENGTH;
    scaled with `max_length`)."""
    rng = np.random.default_rng(seed)
    scale = max_length / MAX_LENGTH
    sigma = math.log(600 / 150) / 1.645
    lengths = np.clip(rng.lognormal(math.log(150 * scale), sigma, count).astype(int), 24, max_length - 24)
    words = np.array(WORDS)
    records = []
    for length in lengths:
        prompt = int(rng.integers(5, 16))
        records.append(
            {
                "instruction": " ".join(rng.choice(words, prompt)),
                "input": "",
                "output": " ".join(rng.choice(words, max(1, length - prompt - 25))),  # ~25 tokens of alpaca template
            }
        )
    path.write_text(json.dumps(records))


def run(argv: list[str], cwd: Path) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if result.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def metric_rows(out: Path, key: str) -> list[dict[str, str]]:
    import csv

    with open(out / "logs" / "metrics.csv") as fh:
        return [row for row in csv.DictReader(fh) if row[key]]


def last_row(out: Path, key: str) -> float:
    return float(metric_rows(out, key)[-1][key])


def litft_command(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "litft.cli",
        *args,
        "--accelerator",
        "cpu",
        "--precision",
        "32-true",
        "--quiet",
        "true",
    ]


def summary(name: str, rounds: list[tuple[float, float]], unit: str, notes: str) -> dict:
    """One JSON line: medians over the rounds of each side's rate and of their ratio, with the spread."""
    ratios = [litft / baseline for litft, baseline in rounds]
    return {
        "name": name,
        "litft": round(statistics.median(litft for litft, _ in rounds), 1),
        "baseline": round(statistics.median(baseline for _, baseline in rounds), 1),
        "ratio": round(statistics.median(ratios), 3),
        "unit": unit,
        "notes": f"{len(rounds)} rounds, sides alternating; ratio per round {[round(r, 3) for r in ratios]}, "
        f"spread {max(ratios) - min(ratios):.3f}; {notes}",
    }


def prepare_lora(root: Path, checkpoint: Path, records: int, max_length: int) -> int:
    """Records and their prepared form; returns the training split's non-padding token count."""
    from litft.prepare.finetune import prepare_finetune

    data = root / "json"
    data.mkdir()
    make_records(data / "train.json", records, 1, max_length)
    make_records(data / "val.json", 16, 2, max_length)
    prepare_finetune(
        data=data,
        out=root / "ft_data",
        checkpoint_dir=checkpoint,
        mask_prompt=False,
        max_seq_length=max_length,
        quiet=True,
    )
    return json.loads((root / "ft_data" / "meta.json").read_text())["splits"]["train"]["tokens"]


def litgpt_lora(root: Path, checkpoint: Path, max_length: int, index: int) -> tuple[float, float]:
    """(non-padding tokens/s over litgpt's own training time, final val loss) of one litgpt LoRA epoch."""
    output = run(
        [
            str(Path(sys.executable).parent / "litgpt"),
            "finetune_lora",
            str(checkpoint),
            "--data",
            "JSON",
            "--data.json_path",
            str(root / "json"),
            "--data.mask_prompt",
            "false",
            "--out_dir",
            str(root / f"litgpt_lora_{index}"),
            "--precision",
            "32-true",
            "--devices",
            "1",
            "--train.micro_batch_size",
            "8",
            "--train.global_batch_size",
            "8",
            "--train.max_seq_length",
            str(max_length),
            "--train.epochs",
            "1",
            "--train.lr_warmup_steps",
            "2",
            "--train.save_interval",
            "100000",
            "--eval.interval",
            "100000",
            "--eval.max_iters",
            "2",
            "--eval.initial_validation",
            "false",
            "--eval.final_validation",
            "true",
            "--logger_name",
            "csv",
            "--optimizer",
            json.dumps({"class_path": "torch.optim.AdamW", "init_args": {"lr": 1e-3, "weight_decay": 0.0}}),
            "--seed",
            "1337",
            "--lora_r",
            "8",
            "--lora_alpha",
            "16",
        ],
        cwd=root,
    )
    seconds = float(re.search(r"Training Time\s*:\s*([\d.]+)", output).group(1))
    tokens = int(re.search(r"Tokens w/ Prompt\s*:\s*(\d+)", output).group(1))
    return tokens / seconds, float(re.search(r"Final evaluation \| val loss: ([\d.]+)", output).group(1))


def litft_lora(
    root: Path, checkpoint: Path, useful: int, variant: str, max_length: int, index: int
) -> tuple[float, float, int]:
    """(non-padding tokens/s over the loop's clock, final val loss, steps) of one litft LoRA epoch."""
    micro, extra = (8, []) if variant == "grouped" else (PACKED_MICRO_BATCH, ["--data.packing", "true"])
    out = root / f"litft_lora_{variant}_{index}"
    run(
        litft_command(
            "finetune",
            "lora",
            str(checkpoint),
            str(root / "ft_data"),
            "--out_dir",
            str(out),
            "--train.micro_batch_size",
            str(micro),
            "--train.global_batch_size",
            str(micro),
            "--train.max_seq_length",
            str(max_length),
            "--train.epochs",
            "1",
            "--train.lr_warmup_steps",
            "2",
            "--train.save_interval",
            "null",
            "--train.log_interval",
            "1",
            "--eval.interval",
            "100000",
            "--eval.max_iters",
            "2",
            "--eval.max_new_tokens",
            "0",
            "--optimizer.lr",
            "1e-3",
            "--optimizer.weight_decay",
            "0.0",
            "--optimizer.beta2",
            "0.999",
            "--lora.r",
            "8",
            "--lora.alpha",
            "16",
            *extra,
        ),
        cwd=root,
    )
    return useful / last_row(out, "elapsed_s"), last_row(out, "val_loss"), int(last_row(out, "step"))


def lora_bench(root: Path, checkpoint: Path, records: int, rounds: int, max_length: int) -> list[dict]:
    useful = prepare_lora(root, checkpoint, records, max_length)
    measured: dict[str, list[tuple[float, float]]] = {"grouped": [], "packed": []}
    results: dict[str, tuple[float, int]] = {}
    litgpt_val = 0.0
    for index in range(rounds):
        sides = ["litft", "litgpt"] if index % 2 == 0 else ["litgpt", "litft"]
        rates: dict[str, float] = {}
        for side in sides:
            if side == "litgpt":
                rates["litgpt"], litgpt_val = litgpt_lora(root, checkpoint, max_length, index)
                continue
            for variant in measured:
                rates[variant], val, steps = litft_lora(root, checkpoint, useful, variant, max_length, index)
                results[variant] = (val, steps)
        for variant in measured:
            measured[variant].append((rates[variant], rates["litgpt"]))
    notes = (
        f"{records} records, {useful} tokens, 1 epoch, fp32 CPU; window: the whole epoch on both sides; "
        f"litgpt: micro batch 8 records, random batches, {-(-records // 8)} steps, "
        f"final val loss {litgpt_val:.4f} (first 2 val batches)"
    )
    hows = {
        "grouped": "default: micro batch 8 records grouped by length",
        "packed": f"--data.packing: micro batch {PACKED_MICRO_BATCH} rows of {max_length + 1} tokens (about the "
        "tokens of 8 records); an explicit block-diagonal mask rules out the flash/efficient SDPA kernels "
        f"and each row attends over all {max_length} positions",
    }
    names = {"grouped": "lora_useful_tokens_vs_litgpt", "packed": "lora_packed_useful_tokens_vs_litgpt"}
    return [
        summary(
            names[variant],
            measured[variant],
            "non-padding tokens/s",
            f"litft {hows[variant]}: {results[variant][1]} steps, final val loss {results[variant][0]:.4f}; {notes}",
        )
        for variant in measured
    ]


PRETRAIN_MICRO, PRETRAIN_SEQ = 4, 512  # a micro batch of windows (--quick: QUICK_WINDOW)
QUICK_WINDOW = (2, 128)
WARMUP = 8  # pretraining steps before the clock starts (fewer with --quick)


def prepare_pretraining(root: Path, checkpoint: Path, documents: int) -> None:
    from litft.prepare.pretrain import prepare_pretrain

    text = root / "pretrain.txt"
    rng = random.Random(3)
    text.write_text(
        "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 400))) for _ in range(documents))
    )
    prepare_pretrain(data=text, out=root / "pt_data", checkpoint_dir=checkpoint, val_fraction=0.02, quiet=True)


def litft_pretrain(root: Path, checkpoint: Path, steps: int, warmup: int, window: tuple[int, int], index: int) -> float:
    """Tokens/s of `litft pretrain` from the end of step `warmup` to the end of the last step (its loop clock)."""
    out = root / f"litft_pt_{index}"
    run(
        litft_command(
            "pretrain",
            str(root / "pt_data"),
            "--model_config",
            str(checkpoint / "model_config.yaml"),
            "--tokenizer_dir",
            str(checkpoint),
            "--out_dir",
            str(out),
            "--train.micro_batch_size",
            str(window[0]),
            "--train.global_batch_size",
            str(window[0]),
            "--train.max_seq_length",
            str(window[1]),
            "--train.max_steps",
            str(steps),
            "--train.lr_warmup_steps",
            "2",
            "--train.save_interval",
            "null",
            "--train.log_interval",
            "1",
            "--eval.final_validation",
            "false",
            "--eval.interval",
            "100000",
        ),
        cwd=root,
    )
    elapsed = {int(row["step"]): float(row["elapsed_s"]) for row in metric_rows(out, "elapsed_s")}
    return (steps - warmup) * window[0] * window[1] / (elapsed[steps] - elapsed[warmup])


def litgpt_pretrain(root: Path, steps: int, warmup: int, window: tuple[int, int]) -> float:
    """The same window of `litgpt.pretrain.fit`, in a process of its own (`--litgpt_pretrain_worker`)."""
    worker = [sys.executable, __file__, "--litgpt_pretrain_worker", str(root), "--steps", str(steps)]
    output = run(worker + ["--window", *map(str, window)], cwd=root)
    fetched = json.loads(output.strip().splitlines()[-1])["batch_fetched"]
    # Batch k + 1 is fetched when step k has ended (the loop fetches one more batch before it stops).
    return (steps - warmup) * window[0] * window[1] / (fetched[steps] - fetched[warmup])


def litgpt_pretrain_worker(root: Path, steps: int, window: tuple[int, int]) -> None:
    """litgpt's loop on litft's reader of the same train.bin; prints when each batch was fetched (JSON)."""
    import lightning as L
    import torch
    from litgpt.args import EvalArgs, TrainArgs
    from litgpt.pretrain import fit as litgpt_fit

    from litft.models.build import build_model, resolve_config
    from litft.readers.pretrain import PretrainDataset

    class TimedLoader:
        """The DataLoader, recording the time each batch is handed to the loop."""

        def __init__(self, loader: torch.utils.data.DataLoader) -> None:
            self.loader, self.fetched = loader, []

        def __len__(self) -> int:
            return len(self.loader)

        def __iter__(self):
            for batch in self.loader:
                self.fetched.append(time.perf_counter())
                yield batch

    checkpoint = root / "checkpoint"
    micro, seq = window
    fabric = L.Fabric(accelerator="cpu", devices=1, precision="32-true")
    torch.manual_seed(0)
    model = build_model("pretrain", resolve_config(checkpoint / "model_config.yaml"))
    model.max_seq_length = seq
    model = fabric.setup(model)
    optimizer = fabric.setup_optimizers(
        torch.optim.AdamW(model.parameters(), lr=4e-4, weight_decay=0.1, betas=(0.9, 0.95))
    )
    dataset = PretrainDataset(root / "pt_data", seq, "train", shuffle=True)
    val = PretrainDataset(root / "pt_data", seq, "val", shuffle=False)
    loader = TimedLoader(torch.utils.data.DataLoader(dataset, batch_size=micro, shuffle=False))
    val_loader = torch.utils.data.DataLoader(val, batch_size=micro)
    state = {"model": model, "optimizer": optimizer, "train_dataloader": loader, "iter_num": 0, "step_count": 0}
    train = TrainArgs(
        global_batch_size=micro,
        micro_batch_size=micro,
        max_tokens=steps * micro * seq,
        max_norm=1.0,
        lr_warmup_steps=2,
        log_interval=1,
        save_interval=None,
        max_seq_length=seq,
    )
    eval_args = EvalArgs(interval=100000, max_iters=2, initial_validation=False, final_validation=False)
    litgpt_fit(fabric, 1, state, loader, val_loader, root / "litgpt_pt", None, train, eval_args)
    print(json.dumps({"batch_fetched": [None, *loader.fetched]}))  # 1-based: batch k at index k


def pretrain_bench(root: Path, checkpoint: Path, steps: int, rounds: int, quick: bool) -> dict:
    documents, window = (300, QUICK_WINDOW) if quick else (1500, (PRETRAIN_MICRO, PRETRAIN_SEQ))
    prepare_pretraining(root, checkpoint, documents)
    warmup = WARMUP if steps > 2 * WARMUP else steps // 4
    measured = []
    for index in range(rounds):
        sides = ["litft", "litgpt"] if index % 2 == 0 else ["litgpt", "litft"]
        rates = {
            side: litft_pretrain(root, checkpoint, steps, warmup, window, index)
            if side == "litft"
            else litgpt_pretrain(root, steps, warmup, window)
            for side in sides
        }
        measured.append((rates["litft"], rates["litgpt"]))
    return summary(
        "pretrain_tokens_vs_litgpt",
        measured,
        "tokens/s",
        f"{steps} steps of {window[0]} x {window[1]} windows, fp32 CPU, both logging every step; "
        f"steady-state window: steps {warmup + 1}-{steps} (end of step {warmup} to end of step {steps})",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 records, 4 steps, 1 round: a smoke run of the code")
    parser.add_argument("--rounds", type=int, help="rounds, sides alternating (default 3, --quick 1)")
    parser.add_argument("--only", choices=("lora", "pretrain", "qlora", "dpo"))
    parser.add_argument("--steps", type=int, help="pretraining steps (default 64, --quick 4)")
    parser.add_argument("--litgpt_pretrain_worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--window", type=int, nargs=2, help=argparse.SUPPRESS)  # the worker's micro batch, length
    args = parser.parse_args()
    steps = args.steps or (4 if args.quick else 64)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.litgpt_pretrain_worker:
        litgpt_pretrain_worker(args.litgpt_pretrain_worker, steps, tuple(args.window))
        return
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="litft-bench-train-") as tmp:
        root = Path(tmp)
        checkpoint = make_checkpoint(root)
        lines = []
        if args.only in (None, "lora"):
            records, max_length = (8, QUICK_MAX_LENGTH) if args.quick else (256, MAX_LENGTH)
            lines += lora_bench(root, checkpoint, records, args.rounds, max_length)
        if args.only in (None, "pretrain"):
            lines.append(pretrain_bench(root, checkpoint, steps, args.rounds, args.quick))
    load = f"; 1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} CPUs"
    for line in lines:
        print(json.dumps({**line, "notes": line["notes"] + load}), flush=True)
    if args.only == "qlora" or (args.only is None and not args.quick):
        # QLoRA's peak-memory and speed lines: bench/qlora.py measures each side in a fresh process of its own.
        qlora = [sys.executable, str(Path(__file__).with_name("qlora.py"))]
        subprocess.run(qlora + ["--quick"] * args.quick, check=True)
    if args.only == "dpo" or (args.only is None and not args.quick):
        # DPO's lines: bench/dpo.py runs litft and TRL, each round's sides in processes of their own.
        dpo = [sys.executable, str(Path(__file__).with_name("dpo.py"))]
        subprocess.run(dpo + ["--quick"] * args.quick + [f"--rounds={args.rounds}"], check=True)


if __name__ == "__main__":
    main()
