"""Benchmark DPO with LoRA: `litft finetune dpo` against TRL's `DPOTrainer` + peft, same model, pairs and settings.

    python bench/dpo.py            # the demo-shaped tiny model (128 pairs) and SmolLM2-135M-Instruct (24), 3 rounds
    python bench/dpo.py --quick    # the tiny model, 8 pairs, 1 round: a smoke run of the same code (CI runs it)
    python bench/train.py --only dpo   # the same, from the training bench

Models: `litft-demo-llama` (the demo's shape: 2 layers, dim 64, a 1,024-token BPE tokenizer trained here, random
init) and, when bench/_smollm2.py can provide it (cached or downloadable), SmolLM2-135M-Instruct; each side loads
the same weights (litft's checkpoint; transformers' folder from `litft convert lit_to_hf`). The pairs are
`{instruction, input, chosen, rejected}` records of words with log-normal answer lengths (median about 120 tokens
on both models, none cut), the prompt rendered in the alpaca style on both sides (litft: `litft prepare
preference --prompt_style alpaca`; TRL: the same text as its `prompt`, TRL appends EOS to each answer as litft does).

Settings on both sides: the sigmoid DPO loss, beta 0.1, the reference = the same model with the LoRA adapters off
(TRL's default with a peft model and no ref_model), LoRA r 8, alpha 16, no dropout (TRL turns dropout off) on the
query and value projections, micro batch = global batch (8 pairs; SmolLM2: 4), max length 512 (no answer is
cut: the bench stops if one is), one epoch, AdamW lr 5e-5, betas
(0.9, 0.999), no weight decay, linear decay without warm-up, fp32 on the CPU, torch's default threads. TRL's other
defaults: each batch's chosen and rejected rows concatenated and padded to the longest, random order. litft's:
pairs grouped by length. Each side runs in its own process, the sides alternate over `--rounds`.

The rate is useful (non-padding) tokens per second over the whole epoch (both the chosen and the rejected row of
every pair, prompt included), from the start of the training loop to the end of its last step: litft's loop clock
(`elapsed_s` in metrics.csv, the tokens from meta.json), TRL's from a callback (`on_train_begin` to the last
`on_step_end`, the tokens counted by its collator as it builds each batch). One JSON line per model,
`dpo_lora_tokens_vs_trl` (tiny) and `dpo_lora_tokens_vs_trl_smollm2`: the median of the per-round ratios (litft /
TRL; target 1.5), each round's ratio, both sides' padding share and first/last training loss, and the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from train import WORDS, litft_command, metric_rows, run

TARGET = 1.5
BETA, LR = 0.1, 5e-5
LORA = dict(r=8, alpha=16)
# pairs, micro batch, max length, rounds
# words: the answers' median length in words (log-normal, p95 three times it), most: the longest answer
TINY = dict(pairs=128, micro=8, max_length=512, rounds=3, words=60, most=200)
SMOL = dict(pairs=24, micro=4, max_length=512, rounds=3, words=35, most=100)  # SmolLM2: ~4 tokens a bench word
QUICK = dict(pairs=8, micro=4, max_length=256, rounds=1, words=30, most=90)


def tiny_checkpoint(root: Path) -> Path:
    """The demo's model shape, random init, with a BPE tokenizer trained on the bench's words."""
    import torch

    from litft.models.build import build_model, resolve_config
    from litft.models.checkpoint import save_checkpoint
    from litft.models.prompts import get_prompt_style
    from litft.prepare.tokenizer_training import train_tokenizer

    corpus = root / "corpus.txt"
    rng = random.Random(0)
    template = get_prompt_style("alpaca").apply("", input="")  # learnt as the demo's tokenizer learns English
    lines = [" ".join(rng.choice(WORDS) for _ in range(50)) for _ in range(400)]
    corpus.write_text("\n".join(lines + [template] * 50))
    train_tokenizer(data=corpus, out=root / "tok", vocab_size=1024, min_frequency=1, split_lines=True, quiet=True)
    config = resolve_config("litft-demo-llama")
    torch.manual_seed(0)
    state = build_model("full", config).state_dict()
    return save_checkpoint(root / "tiny", method="full", state_dict=state, config=config, source_dir=root / "tok")


def hf_folder(checkpoint: Path, out: Path) -> Path:
    from litft.models.convert import convert_lit_checkpoint

    with contextlib.redirect_stdout(sys.stderr):  # stdout holds only the JSON result lines
        convert_lit_checkpoint(checkpoint, out)
    return out


def write_pairs(path: Path, count: int, size: dict, seed: int) -> None:
    """Pairs of word answers, log-normal lengths (median `words`, at most `most`; the tiny tokenizer takes about 2
    tokens a word)."""
    rng = np.random.default_rng(seed)
    words = np.array(WORDS)
    sigma = math.log(3.0) / 1.645  # p95 three times the median

    def answer() -> str:
        length = int(np.clip(rng.lognormal(math.log(size["words"]), sigma), 2, size["most"]))
        return " ".join(rng.choice(words, length))

    pairs = [
        {"instruction": " ".join(rng.choice(words, int(rng.integers(5, 16)))), "input": "", "chosen": answer()}
        for _ in range(count)
    ]
    for pair in pairs:
        pair["rejected"] = answer()
    path.write_text(json.dumps(pairs))


def prepare(root: Path, checkpoint: Path, size: dict) -> tuple[Path, int]:
    """`litft prepare preference` of the pairs: the folder and its training tokens (both rows of every pair)."""
    from litft.prepare.preference import prepare_preference

    records = root / "pairs.json"
    write_pairs(records, size["pairs"], size, 1)
    data = root / f"prepared_{checkpoint.name}"
    meta = prepare_preference(
        data=str(records),
        out=data,
        checkpoint_dir=checkpoint,
        prompt_style="alpaca",
        max_seq_length=size["max_length"],
        quiet=True,
    )
    if meta["splits"]["train"]["truncated"]:  # TRL would see the whole answers: not the same records
        raise SystemExit(f"{meta['splits']['train']['truncated']} answers were cut at {size['max_length']} tokens")
    return data, int(meta["splits"]["train"]["tokens"])


def litft_dpo(root: Path, checkpoint: Path, data: Path, size: dict, index: int) -> dict:
    """One `litft finetune dpo` epoch (LoRA): the loop clock at its last step and the training losses."""
    out = root / f"litft_{checkpoint.name}_{index}"
    run(
        litft_command(
            "finetune",
            "dpo",
            str(checkpoint),
            str(data),
            "--out_dir",
            str(out),
            *("--beta", str(BETA), "--lora.r", str(LORA["r"]), "--lora.alpha", str(LORA["alpha"])),
            *("--lora.dropout", "0", "--lora.query", "true", "--lora.value", "true"),
            *("--train.micro_batch_size", str(size["micro"]), "--train.global_batch_size", str(size["micro"])),
            *("--train.max_seq_length", str(size["max_length"]), "--train.epochs", "1"),
            *("--train.lr_warmup_steps", "0", "--train.lr_schedule", "linear", "--train.log_interval", "1"),
            *("--train.save_interval", "null", "--eval.final_validation", "false", "--eval.interval", "100000"),
            *("--eval.initial_validation", "false", "--eval.max_new_tokens", "0"),
            *("--optimizer.lr", str(LR), "--optimizer.beta2", "0.999", "--optimizer.weight_decay", "0"),
        ),
        cwd=root,
    )
    rows = metric_rows(out, "loss")
    return {"seconds": float(rows[-1]["elapsed_s"]), "losses": [float(row["loss"]) for row in rows]}


def trl_worker(hf_dir: Path, pairs: Path, out: Path, size: dict) -> dict:
    """TRL's DPOTrainer with a peft LoRA model for one epoch: loop time, useful and padded tokens, losses."""
    import datasets
    import peft
    import torch
    import transformers
    import trl

    from litft.models.prompts import get_prompt_style

    style = get_prompt_style("alpaca")
    records = json.loads(pairs.read_text())
    rows = [
        {"prompt": style.apply(r["instruction"], input=r["input"]), "chosen": r["chosen"], "rejected": r["rejected"]}
        for r in records
    ]
    clock: dict[str, list[float]] = {"begin": [], "step_end": [], "losses": []}

    class Clock(transformers.TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs) -> None:
            clock["begin"].append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs) -> None:
            clock["step_end"].append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kwargs) -> None:
            if logs and "loss" in logs:
                clock["losses"].append(float(logs["loss"]))

    tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, torch_dtype=torch.float32)
    lora = peft.LoraConfig(
        r=LORA["r"],
        lora_alpha=LORA["alpha"],
        lora_dropout=0.0,
        target_modules=["q_proj", "v_proj"],
        task_type="CAUSAL_LM",
    )
    config = trl.DPOConfig(
        output_dir=str(out),
        beta=BETA,
        loss_type=["sigmoid"],
        per_device_train_batch_size=size["micro"],
        gradient_accumulation_steps=1,
        num_train_epochs=1,
        learning_rate=LR,
        lr_scheduler_type="linear",
        warmup_steps=0,
        weight_decay=0.0,
        max_length=2 * size["max_length"],  # nothing cut: litft's max length holds each row whole
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
    )
    trainer = trl.DPOTrainer(
        model=model,
        args=config,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[Clock()],
    )
    collate, counted = trainer.data_collator, {"useful": 0, "padded": 0}

    def counting_collate(features: list[dict]) -> dict:
        for feature in features:
            prompt = len(feature["prompt_input_ids"])
            counted["useful"] += 2 * prompt + len(feature["chosen_input_ids"]) + len(feature["rejected_input_ids"])
        batch = collate(features)
        counted["padded"] += 2 * batch["prompt_input_ids"].numel() + batch["chosen_input_ids"].numel()
        counted["padded"] += batch["rejected_input_ids"].numel()
        return batch

    trainer.data_collator = counting_collate
    trainer.train()
    return {
        "seconds": clock["step_end"][-1] - clock["begin"][0],
        "useful": counted["useful"],
        "padded": counted["padded"],
        "losses": clock["losses"],
        "steps": len(clock["step_end"]),
    }


def in_process(root: Path, *args: str) -> dict:
    """This script's TRL worker in a process of its own; its result comes back as a JSON file."""
    result = root / f"result-{time.monotonic_ns()}.json"
    run([sys.executable, __file__, *args, "--result", str(result)], cwd=root)
    return json.loads(result.read_text())


def bench_model(root: Path, name: str, checkpoint: Path, hf_dir: Path, size: dict) -> dict:
    data, useful = prepare(root, checkpoint, size)
    rounds = []
    for index in range(size["rounds"]):
        order = ("litft", "trl") if index % 2 == 0 else ("trl", "litft")
        results = {}
        for side in order:
            if side == "litft":
                results[side] = litft_dpo(root, checkpoint, data, size, index)
            else:
                worker = ("--trl_worker", str(hf_dir), "--pairs", str(root / "pairs.json"), "--out")
                results[side] = in_process(root, *worker, str(root / f"trl_{index}"), "--size", json.dumps(size))
        rounds.append(results)
    rates = [(r["litft"]["seconds"], r["trl"]["useful"] / r["trl"]["seconds"]) for r in rounds]
    rates = [(useful / seconds, trl) for seconds, trl in rates]
    ratios = [litft / trl for litft, trl in rates]
    first = rounds[0]
    return {
        "name": name,
        "litft": round(statistics.median(rate[0] for rate in rates), 1),
        "baseline": round(statistics.median(rate[1] for rate in rates), 1),
        "ratio": round(statistics.median(ratios), 3),
        "target": TARGET,
        "unit": "useful (non-padding) tokens/s, chosen and rejected rows",
        "notes": f"{len(rounds)} rounds, sides alternating; ratio per round {[round(r, 3) for r in ratios]}; "
        f"{size['pairs']} pairs, micro batch {size['micro']} pairs, max length {size['max_length']}, 1 epoch, "
        "fp32 CPU; "
        f"tokens: litft {useful} (meta.json), TRL {first['trl']['useful']} (its tokenizer, BOS/EOS its way), "
        f"TRL padding share {1 - first['trl']['useful'] / first['trl']['padded']:.3f}; training loss first/last: "
        f"litft {first['litft']['losses'][0]:.4f}/{first['litft']['losses'][-1]:.4f}, "
        f"TRL {first['trl']['losses'][0]:.4f}/{first['trl']['losses'][-1]:.4f}",
    }


def smollm2(root: Path) -> tuple[Path, Path] | None:
    """SmolLM2-135M-Instruct and its transformers folder, or None when bench/_smollm2.py cannot provide it."""
    import _smollm2

    try:
        checkpoint = _smollm2.checkpoint(_smollm2.CACHE / "bench")
    except _smollm2.Unavailable as error:
        print(f"SmolLM2-135M-Instruct left out: {error}", file=sys.stderr)
        return None
    with contextlib.redirect_stdout(sys.stderr):  # the export's first run prints; stdout is for results
        return checkpoint, _smollm2.hf_export(checkpoint, _smollm2.CACHE / "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the tiny model, 8 pairs, 1 round: a smoke run")
    parser.add_argument("--rounds", type=int, help="rounds, sides alternating (default 3, --quick 1)")
    parser.add_argument("--trl_worker", type=Path, help=argparse.SUPPRESS)  # the transformers folder
    parser.add_argument("--pairs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trl_worker:
        result = trl_worker(args.trl_worker, args.pairs, args.out, json.loads(args.size))
        args.result.write_text(json.dumps(result))
        return
    load_before = os.getloadavg()[0]
    lines = []
    with tempfile.TemporaryDirectory(prefix="litft-bench-dpo-") as tmp:
        root = Path(tmp)
        tiny = tiny_checkpoint(root)
        size = dict(QUICK if args.quick else TINY, **({"rounds": args.rounds} if args.rounds else {}))
        lines.append(bench_model(root, "dpo_lora_tokens_vs_trl", tiny, hf_folder(tiny, root / "tiny-hf"), size))
        smol = None if args.quick else smollm2(root)
        if smol:
            size = dict(SMOL, **({"rounds": args.rounds} if args.rounds else {}))
            lines.append(bench_model(root, "dpo_lora_tokens_vs_trl_smollm2", *smol, size))
    load = f"; 1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} CPUs"
    for line in lines:
        print(json.dumps({**line, "notes": line["notes"] + load}), flush=True)


if __name__ == "__main__":
    main()
