"""Benchmark LoRA on the real SmolLM2-135M-Instruct: `litft finetune lora` against transformers' `Trainer` + peft.

    python bench/real_lora.py            # 64 training records, 8 steps, max length 512, 3 rounds
    python bench/real_lora.py --quick    # 3 records, micro batch 1, 3 steps, max length 128, 1 round (CI's smoke run)

The records are the 175 human-written Self-Instruct seed tasks (Apache-2.0; ../shared/data/self-instruct beside the
checkout), one instruction/input/output record each (a task's first instance): after a seeded shuffle, 16 are held
out for validation and the next `--records` train; with the alpaca template their SmolLM2 token lengths have median
~130 and p95 ~320. `litft prepare finetune --prompt_style alpaca --max_seq_length 512` (its function) tokenizes them
once, prompts masked, and both sides train on those very token ids: transformers' input_ids and labels (-100 on the
prompt) are read from the prepared files with litft's reader.

Both sides: the same weights (bench/_smollm2.py: the GGUF imported by `litft convert gguf_to_lit`, and its
`lit_to_hf` export for transformers), fp32 on the CPU, LoRA r 16, alpha 32, dropout 0.05 on the query, key, value
and output projections, micro batch 8 = global batch 8, one epoch (the same number of optimizer steps), AdamW lr 2e-4,
betas (0.9, 0.999), eps 1e-8, no weight decay, gradient norm clipped at 1.0, no warm-up and a linear decay to 0 (the
two schedules give the same rate at every step), loss = mean over the batch's target tokens, torch's default thread
count (one per core; neither side sets it: Lightning Fabric does so only when it starts several processes).
Set on litft: `--optimizer.beta2 0.999` (its default 0.95), `--train.lr_schedule linear --train.lr_warmup_steps 0`
(default: cosine after 100 warm-up steps), no step checkpoints and no final validation (the validation loss is
computed below for both). litft's defaults otherwise: records grouped by length (batches of similar lengths, little
padding), seed 1337, fused AdamW, the lm head and cross-entropy taken only at target positions (chunked), glibc's
freed memory kept for the next step, no activation checkpointing at this length. Set on the Trainer:
`report_to="none"` (the trackers installed here would start), `save_strategy="no"`, `logging_steps=1`,
`use_cpu=True`. Its defaults otherwise: `DataCollatorForSeq2Seq` padding each batch to its longest record, random
batches (no length grouping), seed 42, adamw_torch_fused, SDPA attention, logits at every position.

Each side runs in its own process, and they alternate over `--rounds` (litft first in odd rounds). The clock runs
from the end of step 2 (`warmup`) to the end of the last step: litft's from its metrics.csv (`elapsed_s` of every
step, as bench/train.py reads it), transformers' from a `TrainerCallback` taking the time at each `on_step_end`. The
useful tokens are the records' own tokens (no padding) in the steps of that window: on the Trainer's side counted
by the collator as it builds each batch, on litft's from its batch order (its sampler, rebuilt here, and checked
against the loss tokens litft logs at every step). A record's last token is only a target: litft drops it from the
model's input, transformers computes it and drops its logits, so litft computes one position fewer per record.
Prints one JSON line, `real_lora_tokens_vs_hf_peft`: the median of the per-round ratios of useful tokens/s
(litft / transformers+peft; target 1.5), each round's rates, both sides' share of padding, their per-step training
losses (round 1: different batches, as each side orders them), and the validation loss of the base model and of
both trained adapters (litft's through `litft convert lit_to_peft`) on the held-out records, computed by one function
on the same transformers model (token-weighted cross-entropy, one record at a time). The machine may be shared with
other jobs: the load average before and after is in the notes, and the rounds' spread shows what it did.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _smollm2
from train import litft_command, metric_rows, run

SELF_INSTRUCT = Path(__file__).resolve().parents[2] / "shared" / "data" / "self-instruct" / "seed_tasks.jsonl"
LR = 2e-4
LORA = dict(r=16, alpha=32, dropout=0.05)
HF_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
LITFT_SEED = 1337  # litft's default --seed (passed explicitly, as the batch order rebuilt here depends on it)
# records: training records (one epoch: records / micro steps); val: held-out records; micro: micro = global batch;
# warmup: steps before the clock starts
FULL = dict(records=64, val=16, micro=8, max_length=512, warmup=2, rounds=3)
QUICK = dict(records=3, val=2, micro=1, max_length=128, warmup=1, rounds=1)
TARGET = 1.5


def write_records(folder: Path, size: dict) -> None:
    """train.json and val.json from the Self-Instruct seed tasks (each task's first instance)."""
    if not SELF_INSTRUCT.is_file():
        raise SystemExit(f"bench/real_lora.py needs the Self-Instruct seed tasks at {SELF_INSTRUCT}")
    tasks = [json.loads(line) for line in SELF_INSTRUCT.read_text().splitlines() if line.strip()]
    records = [
        {
            "instruction": task["instruction"],
            "input": task["instances"][0]["input"],
            "output": task["instances"][0]["output"],
        }
        for task in tasks
    ]
    random.Random(0).shuffle(records)
    folder.mkdir()
    (folder / "val.json").write_text(json.dumps(records[: size["val"]]))
    (folder / "train.json").write_text(json.dumps(records[size["val"] : size["val"] + size["records"]]))


def prepare(root: Path, checkpoint: Path, size: dict) -> Path:
    """`litft prepare finetune --prompt_style alpaca` of the records (the command's function, in this process): the
    token ids both sides train on."""
    from litft.prepare.finetune import prepare_finetune

    write_records(root / "records", size)
    data = root / "prepared"
    prepare_finetune(
        data=str(root / "records"),
        out=data,
        checkpoint_dir=checkpoint,
        prompt_style="alpaca",
        max_seq_length=size["max_length"],
        quiet=True,
    )
    return data


def prepared_records(data: Path, split: str) -> list[dict[str, list[int]]]:
    """The prepared records as transformers takes them: litft's input_ids and labels (-100 on the prompt)."""
    from litft.readers.finetune import FinetuneDataset

    dataset = FinetuneDataset(data, split)
    return [
        {"input_ids": item["input_ids"].tolist(), "labels": item["labels"].tolist()}
        for item in (dataset[i] for i in range(len(dataset)))
    ]


def litft_steps(data: Path, size: dict) -> list[tuple[int, int, int]]:
    """(useful tokens, padded row tokens, target tokens) of each step of litft's epoch, from the batch order its run
    builds (litft.train.job._open_data's arguments for one process)."""
    from litft.train.data import open_finetune

    stream, _ = open_finetune(
        data,
        max_length=size["max_length"] + 1,
        micro_batch_size=size["micro"],
        rank=0,
        world_size=1,
        seed=LITFT_SEED,
        shuffle=True,
        group_by_length=True,
    )
    steps = []
    for batch in stream.sampler.epoch_batches(0):
        rows = [stream.rows[i] for i in batch]
        lengths = [len(row["input_ids"]) for row in rows]
        targets = sum(int((row["labels"][1:] != -100).sum()) for row in rows)
        steps.append((sum(lengths), len(rows) * max(lengths), targets))
    return steps


def litft_lora(root: Path, checkpoint: Path, data: Path, size: dict, index: int) -> dict:
    """One `litft finetune lora` epoch: per-step end times (its loop clock), losses and loss tokens; the run folder."""
    out = root / f"litft_{index}"
    run(
        litft_command(
            "finetune",
            "lora",
            str(checkpoint),
            str(data),
            "--out_dir",
            str(out),
            "--seed",
            str(LITFT_SEED),
            "--lora.r",
            str(LORA["r"]),
            "--lora.alpha",
            str(LORA["alpha"]),
            "--lora.dropout",
            str(LORA["dropout"]),
            *("--lora.query", "true", "--lora.key", "true", "--lora.value", "true", "--lora.projection", "true"),
            *("--train.micro_batch_size", str(size["micro"]), "--train.global_batch_size", str(size["micro"])),
            *("--train.max_seq_length", str(size["max_length"]), "--train.epochs", "1"),
            *("--train.lr_warmup_steps", "0", "--train.lr_schedule", "linear", "--train.log_interval", "1"),
            *("--train.save_interval", "null", "--eval.final_validation", "false", "--eval.interval", "100000"),
            *("--optimizer.lr", str(LR), "--optimizer.beta2", "0.999"),
        ),
        cwd=root,
    )
    rows = metric_rows(out, "loss")
    return {
        "step_end": [float(row["elapsed_s"]) for row in rows],
        "losses": [float(row["loss"]) for row in rows],
        "loss_tokens": [int(row["loss_tokens"]) for row in rows],
        "run": str(out / "final"),
    }


def hf_worker(hf_dir: Path, data: Path, out: Path, micro: int) -> dict:
    """transformers' Trainer + peft LoRA for one epoch; per-step end times, useful tokens and losses (JSON)."""
    import peft
    import torch
    import transformers

    class StepClock(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.step_end: list[float] = []
            self.losses: list[float] = []

        def on_step_end(self, args, state, control, **kwargs) -> None:
            self.step_end.append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kwargs) -> None:
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

    tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
    collate = transformers.DataCollatorForSeq2Seq(tokenizer, padding=True)
    useful: list[int] = []  # the records' tokens of each batch, in the order the Trainer takes them
    padded: list[int] = []  # the batch's rows with their padding

    def counting_collate(features: list[dict]) -> dict:
        lengths = [len(feature["input_ids"]) for feature in features]
        useful.append(sum(lengths))
        padded.append(len(lengths) * max(lengths))
        return collate(features)

    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, torch_dtype=torch.float32)
    lora = peft.LoraConfig(
        r=LORA["r"],
        lora_alpha=LORA["alpha"],
        lora_dropout=LORA["dropout"],
        target_modules=HF_TARGETS,
        task_type="CAUSAL_LM",
    )
    model = peft.get_peft_model(model, lora)
    records = [
        {**record, "attention_mask": [1] * len(record["input_ids"])} for record in prepared_records(data, "train")
    ]
    arguments = transformers.TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=micro,
        learning_rate=LR,
        num_train_epochs=1,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
    )
    clock = StepClock()
    trainer = transformers.Trainer(
        model=model, args=arguments, train_dataset=records, data_collator=counting_collate, callbacks=[clock]
    )
    started = time.perf_counter()
    trainer.train()
    model.save_pretrained(out / "adapter")
    return {
        "step_end": [moment - started for moment in clock.step_end],
        "useful": useful[: len(clock.step_end)],
        "padded": padded[: len(clock.step_end)],
        "losses": clock.losses,
        "threads": torch.get_num_threads(),
        "run": str(out / "adapter"),
    }


def in_process(root: Path, *args: str) -> dict:
    """This script's `args` worker in a process of its own; its result comes back as a JSON file (the Trainer and
    litft's export print to stdout)."""
    result = root / f"result-{time.monotonic_ns()}.json"
    run([sys.executable, __file__, *args, "--data", str(root / "prepared"), "--result", str(result)], cwd=root)
    return json.loads(result.read_text())


def val_worker(hf_dir: Path, data: Path, adapters: dict[str, str]) -> dict[str, float]:
    """Mean cross-entropy over the target tokens of the held-out records: the base model and each adapter, all on
    the same transformers model, one record at a time (no padding)."""
    import peft
    import torch
    import transformers

    from litft.models.peft_export import convert_lit_to_peft

    records = prepared_records(data, "val")
    base = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, torch_dtype=torch.float32).eval()

    @torch.no_grad()
    def loss(model: torch.nn.Module) -> float:
        total, count = 0.0, 0
        for record in records:
            logits = model(input_ids=torch.tensor([record["input_ids"]])).logits[0, :-1]
            targets = torch.tensor(record["labels"][1:])
            total += float(torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100, reduction="sum"))
            count += int((targets != -100).sum())
        return total / count

    losses = {"base": loss(base)}
    for side, adapter in adapters.items():
        if side == "litft":
            exported = Path(adapter).parent / "peft"
            convert_lit_to_peft(Path(adapter), exported)
            adapter = str(exported)
        model = peft.PeftModel.from_pretrained(base, adapter).eval()
        losses[side] = loss(model)
        base = model.unload()  # the base without this adapter, for the next
    return losses


def window_rate(step_end: list[float], useful: list[int], warmup: int) -> float:
    """Useful tokens/s from the end of step `warmup` to the end of the last step."""
    return sum(useful[warmup:]) / (step_end[-1] - step_end[warmup - 1])


def measure(root: Path, checkpoint: Path, hf_dir: Path, size: dict) -> tuple[list[dict], dict, dict]:
    """Each round's litft and transformers results, sides alternating; the (checked) litft batch tokens."""
    data = root / "prepared"
    steps = litft_steps(data, size)
    rounds = []
    for index in range(size["rounds"]):
        order = ("litft", "hf") if index % 2 == 0 else ("hf", "litft")
        results = {}
        for side in order:
            if side == "litft":
                results[side] = litft_lora(root, checkpoint, data, size, index)
                logged = results[side]["loss_tokens"]
                expected = list(itertools.accumulate(step[2] for step in steps))
                if logged != expected:  # the batch order rebuilt here is not the run's
                    raise SystemExit(f"litft logged loss tokens {logged}, the rebuilt batches give {expected}")
                results[side]["useful"] = [step[0] for step in steps]
                results[side]["padded"] = [step[1] for step in steps]
            else:
                out = root / f"hf_{index}"
                results[side] = in_process(
                    root, "--hf_worker", str(hf_dir), "--out", str(out), "--micro", str(size["micro"])
                )
        rounds.append(results)
    adapters = {side: rounds[0][side]["run"] for side in ("litft", "hf")}
    val = in_process(root, "--val_worker", str(hf_dir), "--adapters", json.dumps(adapters))
    return rounds, val, {"steps": len(steps), "useful": sum(step[0] for step in steps)}


def report(rounds: list[dict], val: dict, epoch: dict, size: dict, load: tuple[float, float]) -> dict:
    warmup = size["warmup"]
    rates = [{side: window_rate(r[side]["step_end"], r[side]["useful"], warmup) for side in r} for r in rounds]
    ratios = [rate["litft"] / rate["hf"] for rate in rates]
    first = rounds[0]
    few = max(1, min(3, epoch["steps"] // 4))  # steps averaged at each end of the loss curves

    def ends(losses: list[float]) -> list[float]:
        return [round(statistics.mean(losses[:few]), 4), round(statistics.mean(losses[-few:]), 4)]

    def padding(side: dict) -> float:  # the share of the window's row tokens that are padding
        return round(1 - sum(side["useful"][warmup:]) / sum(side["padded"][warmup:]), 3)

    return {
        "name": "real_lora_tokens_vs_hf_peft",
        "litft": round(statistics.median(rate["litft"] for rate in rates), 1),
        "baseline": round(statistics.median(rate["hf"] for rate in rates), 1),
        "ratio": round(statistics.median(ratios), 3),
        "target": TARGET,
        "unit": "useful (non-padding) input tokens/s",
        "rounds": [
            {side: round(rate[side], 1) for side in ("litft", "hf")} | {"ratio": round(ratio, 3)}
            for rate, ratio in zip(rates, ratios, strict=True)
        ],
        "padding": {side: padding(first[side]) for side in ("litft", "hf")},
        "train_loss_first_last": {side: ends(first[side]["losses"]) for side in ("litft", "hf")},
        "train_losses": {side: [round(loss, 4) for loss in first[side]["losses"]] for side in ("litft", "hf")},
        "val_loss": {key: round(value, 4) for key, value in val.items()},
        "notes": f"SmolLM2-135M-Instruct (GGUF Q4_1 dequantized to fp32), CPU fp32; {size['records']} Self-Instruct "
        f"records ({epoch['useful']} tokens), max length {size['max_length']}, micro = global batch {size['micro']}, "
        f"{epoch['steps']} steps (1 epoch); LoRA r{LORA['r']} alpha {LORA['alpha']} q/k/v/o; lr {LR} linear to 0; "
        f"window: end of step {warmup} to end of step {epoch['steps']}; {len(rounds)} rounds, sides alternating, "
        f"ratio per round {[round(r, 3) for r in ratios]}; train losses: mean of the first and last {few} steps "
        f"(round 1; litft batches grouped by length, the Trainer's random); val loss over {size['val']} held-out "
        f"records by one function on the transformers model; torch threads {first['hf']['threads']} "
        f"(transformers; litft the same default); 1-min load average {load[0]:.2f} before, {load[1]:.2f} after, "
        f"{os.cpu_count()} CPUs (a machine other jobs share)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 records, micro batch 1, 3 steps, max length 128, 1 round (CI)"
    )
    parser.add_argument("--rounds", type=int, help="rounds, sides alternating (default 3, --quick 1)")
    parser.add_argument("--records", type=int, help=f"training records (default {FULL['records']})")
    parser.add_argument("--hf_worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--val_worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--adapters", type=json.loads, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--micro", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hf_worker or args.val_worker:
        if args.hf_worker:
            result = hf_worker(args.hf_worker, args.data, args.out, args.micro)
        else:
            result = val_worker(args.val_worker, args.data, args.adapters)
        args.result.write_text(json.dumps(result))
        return
    size = dict(QUICK if args.quick else FULL)
    size["rounds"] = args.rounds or size["rounds"]
    size["records"] = args.records or size["records"]
    try:
        checkpoint = _smollm2.checkpoint(_smollm2.CACHE / "bench")
    except _smollm2.Unavailable as error:
        raise SystemExit(f"bench/real_lora.py needs SmolLM2-135M-Instruct: {error}") from None
    hf_dir = _smollm2.hf_export(checkpoint, _smollm2.CACHE / "bench")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="litft-bench-real-lora-") as tmp:
        root = Path(tmp)
        prepare(root, checkpoint, size)
        rounds, val, epoch = measure(root, checkpoint, hf_dir, size)
    print(json.dumps(report(rounds, val, epoch, size, (load_before, os.getloadavg()[0]))), flush=True)


if __name__ == "__main__":
    main()
