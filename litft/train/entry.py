"""The training commands: `litft pretrain`, `litft finetune full|lora|adapter_v2` and the preference tuning
commands `litft finetune dpo|kto` (on LoRA or full fine-tuning).

Each is a jsonargparse function: its signature is the command line (jsonargparse needs the parameters
spelled out, so each command lists its own) and its docstring the help. The body only packs the arguments
into a `Job` for `litft.train.job.run`. The three fine-tuning commands share all but their method's
settings, so their help text is written once, in `_finetune_doc`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

from litft.common.checks import require_dir, require_file
from litft.common.errors import LitftError
from litft.common.settings import AdapterV2Settings, LoRASettings, Quantize
from litft.train.args import (
    DataArgs,
    EvalArgs,
    OptimizerArgs,
    PreferenceArgs,
    TrainArgs,
    check_paged_optimizer,
    validate_args,
)
from litft.train.logging import tracker_names

LoggerChoice = Literal["csv", "tensorboard", "wandb", "mlflow"]
PrecisionChoice = Literal["32-true", "bf16-true", "bf16-mixed", "16-mixed", "16-true"] | None
StrategyChoice = Literal["auto", "ddp", "fsdp"]
CheckpointingChoice = bool | Literal["auto"]


PRETRAIN_TRAIN = TrainArgs(
    global_batch_size=64,
    micro_batch_size=4,
    max_tokens=None,
    max_steps=None,
    lr_warmup_steps=200,
    lr_schedule="cosine",
    min_lr=4e-5,
    max_norm=1.0,
    save_interval=1000,
    log_interval=10,
)
FINETUNE_TRAIN = TrainArgs(
    global_batch_size=16,
    micro_batch_size=1,
    epochs=1,
    lr_warmup_steps=100,
    lr_schedule="cosine",
    max_norm=1.0,
    save_interval=1000,
    log_interval=1,
)


def pretrain(
    data_dir: Path,
    out_dir: Path = Path("out/pretrain"),
    model_name: str | None = None,
    model_config: Path | None = None,
    checkpoint_dir: Path | None = None,
    tokenizer_dir: Path | None = None,
    resume: str | None = None,
    overwrite: bool = False,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: CheckpointingChoice = "auto",
    seed: int = 42,
    train: TrainArgs = PRETRAIN_TRAIN,
    eval: EvalArgs = EvalArgs(interval=1000, max_iters=100, max_new_tokens=0),
    optimizer: OptimizerArgs = OptimizerArgs(lr=4e-4, weight_decay=0.1, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice | list[LoggerChoice] = "csv",
    quiet: bool = False,
) -> Any:
    """Pretrain from random init (--model_name / --model_config) or continue pretraining --checkpoint_dir.

    Args:
        data_dir: A `litft prepare pretrain` directory (train.bin, val.bin, meta.json).
        out_dir: Where step-NNNNNN/ and final/ checkpoints and logs/metrics.csv go.
        model_name: A litgpt config name (e.g. Llama-2-7b-hf) or a litft tiny one, for random init.
        model_config: A model_config.yaml for random init.
        checkpoint_dir: A litgpt checkpoint to continue pretraining from.
        tokenizer_dir: The tokenizer to store with checkpoints (default: checkpoint_dir, else the data's tokenizer).
        resume: `auto` (the newest checkpoint in out_dir, if any) or a step directory to resume exactly from.
        overwrite: Start over in an out_dir that holds another run (only that run's checkpoints and logs are removed).
        precision: 32-true, bf16-true, bf16-mixed, 16-mixed (default: bf16-true on GPUs that support it, else 32-true).
        accelerator: cpu, cuda or auto.
        devices: Devices per node.
        num_nodes: Nodes.
        strategy: auto, ddp or fsdp (transformer blocks wrapped; sharded optimizer state).
        activation_checkpointing: Recompute each block's activations in backward (less memory, same results); auto:
        on when a training row can reach 1,024 tokens.
        seed: Seed of initialisation, data order and dropout.
        train: Batch sizes, length, schedule, clipping, checkpoint interval.
        eval: Validation interval and size.
        optimizer: AdamW settings.
        data: Shuffling (packing is for fine-tuning).
        logger: csv, tensorboard, wandb, mlflow, or several (`--logger tensorboard wandb`); CSV is always written.
        quiet: Only errors and the final line.
    """
    return _run("pretrain", locals(), data_kind="pretrain")  # locals() here is exactly the parameters


def _run(method: str, arguments: dict[str, Any], data_kind: str = "finetune") -> Any:
    """Check the paths and the cheap settings, then import the training stack (torch, Lightning) and run the job.

    `data_kind` is the method's (litft.models.methods), repeated here so a missing --data_dir is answered
    before torch is imported.
    """
    hint = "check the path or download/convert a model first"
    require_dir(arguments.get("checkpoint_dir"), "--checkpoint_dir", hint)
    require_dir(arguments["data_dir"], "--data_dir", f"run `litft prepare {data_kind}` first")
    require_file(arguments.get("model_config"), "--model_config")
    require_dir(arguments.get("tokenizer_dir"), "--tokenizer_dir")
    # The device count is known only once Fabric starts; one device is the check every count must pass too.
    validate_args(arguments["train"], arguments["eval"], arguments["optimizer"], world_size=1)
    if arguments["accelerator"] == "cpu":
        check_paged_optimizer(arguments["optimizer"], "cpu")
    tracker_names(arguments["logger"])  # a missing tracker package or W&B login: one sentence, before torch
    _check_continuation(arguments.get("init_from"), arguments.get("replay", 0.0))
    from litft.train.job import Job, run

    return run(Job.from_command(method, arguments))


def _check_continuation(init_from: Path | None, replay: float) -> None:
    require_dir(init_from, "--init_from", "give the folder of the earlier litft run")
    if not 0 <= replay < 1:
        raise LitftError(f"--replay {replay} must be at least 0 and below 1 (a fraction of the earlier run's records).")
    if replay > 0 and init_from is None:
        raise LitftError("--replay mixes in the records of the run --init_from names; pass --init_from too.")


# The fine-tuning commands' help, apart from the summary and the method's own group and seed use.
FINETUNE_ARGS = """checkpoint_dir: The litgpt checkpoint to fine-tune.
data_dir: A `litft prepare finetune` directory made with this checkpoint's tokenizer.
out_dir: Where step-NNNNNN/ and final/ checkpoints and logs/metrics.csv go.
resume: `auto` (the newest checkpoint in out_dir, if any) or a step directory to resume exactly from.
init_from: An earlier run of this method (its folder or a step) to continue from on new data: its trained
    weights, a fresh optimizer and schedule (the documents changed: `litft refresh`).
replay: With --init_from, the fraction of that run's training records (a seeded sample) trained on again
    beside the new ones; the run's data.json lists them and the data version.
overwrite: Start over in an out_dir that holds another run (only that run's checkpoints and logs are removed).
precision: 32-true, bf16-true, bf16-mixed, 16-mixed (default: bf16-true on GPUs that support it, else 32-true).
accelerator: cpu, cuda or auto.
devices: Devices per node.
num_nodes: Nodes.
strategy: auto, ddp or fsdp (transformer blocks wrapped; sharded optimizer state).
activation_checkpointing: Recompute each block's activations in backward (less memory, same results); auto:
    on when a training row can reach 1,024 tokens.
quantize: Load the frozen base in 4 or 8 bits with bitsandbytes, on CPU or CUDA (QLoRA; LoRA only): bnb.nf4,
    bnb.nf4-dq, bnb.fp4, bnb.fp4-dq, bnb.int8; checkpoints record it and keep only the LoRA weights.
seed: {seed}
{method_group}train: Batch sizes, length, schedule, clipping, checkpoint interval.
eval: Validation interval, size and sample length.
optimizer: AdamW settings (--optimizer.name adamw, adamw8bit or paged_adamw8bit).
data: Shuffling, length grouping and packing.
logger: csv, tensorboard, wandb, mlflow, or several (`--logger tensorboard wandb`); CSV is always written.
quiet: Only errors and the final line."""


def _finetune_doc(summary: str, seed: str, method_group: str = "") -> str:
    args = FINETUNE_ARGS.format(seed=seed, method_group=method_group + "\n" if method_group else "")
    return summary + "\n\nArgs:\n" + "\n".join("    " + line for line in args.splitlines()) + "\n"


def finetune_full(
    checkpoint_dir: Path,
    data_dir: Path,
    out_dir: Path = Path("out/finetune/full"),
    resume: str | None = None,
    init_from: Path | None = None,
    replay: float = 0.0,
    overwrite: bool = False,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: CheckpointingChoice = "auto",
    quantize: Quantize | None = None,
    seed: int = 1337,
    train: TrainArgs = FINETUNE_TRAIN,
    eval: EvalArgs = EvalArgs(interval=600, max_iters=100, max_new_tokens=100),
    optimizer: OptimizerArgs = OptimizerArgs(lr=2e-5, weight_decay=0.02, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice | list[LoggerChoice] = "csv",
    quiet: bool = False,
) -> Any:
    return _run("full", locals())


def finetune_lora(
    checkpoint_dir: Path,
    data_dir: Path,
    out_dir: Path = Path("out/finetune/lora"),
    resume: str | None = None,
    init_from: Path | None = None,
    replay: float = 0.0,
    overwrite: bool = False,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: CheckpointingChoice = "auto",
    quantize: Quantize | None = None,
    seed: int = 1337,
    lora: LoRASettings = LoRASettings(),
    train: TrainArgs = FINETUNE_TRAIN,
    eval: EvalArgs = EvalArgs(interval=100, max_iters=100, max_new_tokens=100),
    optimizer: OptimizerArgs = OptimizerArgs(lr=3e-4, weight_decay=0.0, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice | list[LoggerChoice] = "csv",
    quiet: bool = False,
) -> Any:
    return _run("lora", locals())


def finetune_adapter_v2(
    checkpoint_dir: Path,
    data_dir: Path,
    out_dir: Path = Path("out/finetune/adapter_v2"),
    resume: str | None = None,
    init_from: Path | None = None,
    replay: float = 0.0,
    overwrite: bool = False,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: CheckpointingChoice = "auto",
    quantize: Quantize | None = None,
    seed: int = 1337,
    adapter: AdapterV2Settings = AdapterV2Settings(),
    train: TrainArgs = FINETUNE_TRAIN,
    eval: EvalArgs = EvalArgs(interval=600, max_iters=100, max_new_tokens=100),
    optimizer: OptimizerArgs = OptimizerArgs(lr=1e-3, weight_decay=0.02, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice | list[LoggerChoice] = "csv",
    quiet: bool = False,
) -> Any:
    return _run("adapter_v2", locals())


finetune_full.__doc__ = _finetune_doc(
    "Fine-tune every parameter of a checkpoint on instruction data.", seed="Seed of data order and dropout."
)
finetune_lora.__doc__ = _finetune_doc(
    "Fine-tune a checkpoint with LoRA; checkpoints keep only the LoRA weights (lit_model.pth.lora).",
    seed="Seed of LoRA initialisation, data order and dropout.",
    method_group="lora: Rank, alpha, dropout and the projections LoRA is applied to.",
)
finetune_adapter_v2.__doc__ = _finetune_doc(
    "Fine-tune a checkpoint with adapter-v2; checkpoints keep only the adapter weights (lit_model.pth.adapter_v2).",
    seed="Seed of data order.",
    method_group="adapter: Adapter prompt length and first adapted layer.",
)


Finetuning = Literal["lora", "full"]


def finetune_dpo(
    checkpoint_dir: Path,
    data_dir: Path,
    out_dir: Path = Path("out/finetune/dpo"),
    finetuning: Finetuning = "lora",
    loss: Literal["dpo", "ipo"] = "dpo",
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    precompute_reference: bool = False,
    resume: str | None = None,
    overwrite: bool = False,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: CheckpointingChoice = "auto",
    quantize: Quantize | None = None,
    seed: int = 1337,
    lora: LoRASettings = LoRASettings(),
    train: TrainArgs = FINETUNE_TRAIN,
    eval: EvalArgs = EvalArgs(interval=100, max_iters=100, max_new_tokens=0),
    optimizer: OptimizerArgs = OptimizerArgs(lr=5e-6, weight_decay=0.0, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice | list[LoggerChoice] = "csv",
    quiet: bool = False,
) -> Any:
    preference = PreferenceArgs(loss, beta, label_smoothing, precompute_reference=precompute_reference)
    return _run_preference("dpo", locals(), preference)


def finetune_kto(
    checkpoint_dir: Path,
    data_dir: Path,
    out_dir: Path = Path("out/finetune/kto"),
    finetuning: Finetuning = "lora",
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
    precompute_reference: bool = False,
    resume: str | None = None,
    overwrite: bool = False,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: CheckpointingChoice = "auto",
    quantize: Quantize | None = None,
    seed: int = 1337,
    lora: LoRASettings = LoRASettings(),
    train: TrainArgs = FINETUNE_TRAIN,
    eval: EvalArgs = EvalArgs(interval=100, max_iters=100, max_new_tokens=0),
    optimizer: OptimizerArgs = OptimizerArgs(lr=5e-6, weight_decay=0.0, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice | list[LoggerChoice] = "csv",
    quiet: bool = False,
) -> Any:
    preference = PreferenceArgs(
        "kto",
        beta,
        desirable_weight=desirable_weight,
        undesirable_weight=undesirable_weight,
        precompute_reference=precompute_reference,
    )
    return _run_preference("kto", locals(), preference)


def _run_preference(objective: str, arguments: dict[str, Any], preference: PreferenceArgs) -> Any:
    """The preference command's loss settings checked and packed into one group (`Job.preference`), its method the
    registry's `{objective}_{finetuning}` entry (litft.models.methods); full fine-tuning takes no --lora group."""
    preference.check()
    if arguments["data"].packing:
        raise LitftError("--data.packing does not apply to preference data (each pair is its own rows); drop it.")
    finetuning = arguments["finetuning"]
    flat = ("finetuning", "preference", *(f.name for f in dataclasses.fields(PreferenceArgs)))
    kept = {key: value for key, value in arguments.items() if key not in flat}
    if finetuning == "full":
        kept.pop("lora")
    return _run(f"{objective}_{finetuning}", {**kept, "preference": preference}, data_kind="preference")


PREFERENCE_ARGS = """finetuning: lora (default: the reference is the base with the adapters switched off, no second copy
    in memory) or full (a frozen reference copy, or --precompute_reference true).
{loss}precompute_reference: Compute the reference log-probabilities once before training and keep them in the run
    folder (reference_logps.*.npy), instead of a reference forward pass per batch."""

finetune_dpo.__doc__ = _finetune_doc(
    "Tune a checkpoint on preference pairs (DPO or IPO), from `litft prepare preference` data with chosen/rejected "
    "answers.",
    seed="Seed of LoRA initialisation, data order and dropout.",
    method_group=PREFERENCE_ARGS.format(
        loss="loss: dpo (-log sigmoid of beta times the reward margin) or ipo (squared, length-averaged).\n"
        "beta: The reward scale (how far the policy may move from the reference).\n"
        "label_smoothing: dpo: the assumed share of flipped pairs (conservative DPO), in [0, 0.5).\n"
    )
    + "\nlora: Rank, alpha, dropout and the projections LoRA is applied to (with --finetuning lora).",
).replace("A `litft prepare finetune` directory", "A `litft prepare preference` directory")
finetune_kto.__doc__ = _finetune_doc(
    "Tune a checkpoint on desirable and undesirable answers (KTO), from `litft prepare preference` data with "
    "output/label records.",
    seed="Seed of LoRA initialisation, data order and dropout.",
    method_group=PREFERENCE_ARGS.format(
        loss="beta: The reward scale (how far the policy may move from the reference).\n"
        "desirable_weight: Weight of the desirable answers' losses.\n"
        "undesirable_weight: Weight of the undesirable answers' losses.\n"
    )
    + "\nlora: Rank, alpha, dropout and the projections LoRA is applied to (with --finetuning lora).",
).replace("A `litft prepare finetune` directory", "A `litft prepare preference` directory")
