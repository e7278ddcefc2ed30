"""The four training commands: `litft pretrain` and `litft finetune full|lora|adapter_v2`.

Each is a thin jsonargparse signature over `run`, which builds the Fabric, launches (or joins) the
processes and, in each, builds the method's model, its data streams and optimizer, then calls the one loop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import lightning as L
import torch

from litft.errors import LitftError
from litft.model import AdapterV2Settings, LoRASettings, count_parameters, load_weights, resolve_config
from litft.train.args import DataArgs, EvalArgs, OptimizerArgs, TrainArgs, validate_args
from litft.train.fabric_setup import is_fsdp, launch, make_fabric
from litft.train.methods import Method, get_method

LoggerChoice = Literal["csv", "tensorboard"]
PrecisionChoice = Optional[Literal["32-true", "bf16-true", "bf16-mixed", "16-mixed", "16-true"]]
StrategyChoice = Literal["auto", "ddp", "fsdp"]


@dataclass
class Job:
    """Every setting of one run, as the command line gave them."""

    method: str
    data_dir: Path
    out_dir: Path
    checkpoint_dir: Optional[Path] = None
    model_name: Optional[str] = None
    model_config: Optional[Path] = None
    tokenizer_dir: Optional[Path] = None
    resume: Optional[str] = None
    precision: Optional[str] = None
    accelerator: str = "auto"
    devices: Union[int, str] = 1
    num_nodes: int = 1
    strategy: str = "auto"
    activation_checkpointing: bool = False
    seed: int = 42
    train: TrainArgs = field(default_factory=TrainArgs)
    eval: EvalArgs = field(default_factory=EvalArgs)
    optimizer: OptimizerArgs = field(default_factory=OptimizerArgs)
    data: DataArgs = field(default_factory=DataArgs)
    lora: Optional[LoRASettings] = None
    adapter: Optional[AdapterV2Settings] = None
    logger: str = "csv"
    quiet: bool = False

    def hyperparameters(self) -> dict[str, Any]:
        """What the run's checkpoints record in hyperparameters.yaml (lora_*/adapter_* are added by save_checkpoint)."""
        values = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name in ("lora", "adapter", "method"):
                continue
            if dataclasses.is_dataclass(value):
                value = asdict(value)
            elif isinstance(value, Path):
                value = str(value.resolve())
            values[item.name] = value
        return values


def run(job: Job) -> Any:
    """Validate, build the Fabric and run `main` in every process; returns rank 0's (or this rank's) Result."""
    method = get_method(job.method)
    _check_paths(job, method)
    fabric = make_fabric(
        accelerator=job.accelerator, devices=job.devices, num_nodes=job.num_nodes, strategy=job.strategy,
        precision=job.precision, activation_checkpointing=job.activation_checkpointing, block_class=method.block_class,
    )
    validate_args(job.train, job.eval, job.optimizer, fabric.world_size)
    return launch(fabric, main, job)


def _check_paths(job: Job, method: Method) -> None:
    if not Path(job.data_dir).is_dir():
        raise LitftError(f"data directory {job.data_dir} does not exist; run `litft prepare {method.data_kind}` first.")
    if method.needs_base and job.checkpoint_dir is None:
        raise LitftError(f"{method.name} fine-tuning starts from a checkpoint; pass --checkpoint_dir.")
    if method.name == "pretrain":
        given = [name for name in ("checkpoint_dir", "model_name", "model_config") if getattr(job, name) is not None]
        if len(given) != 1:
            raise LitftError("pass exactly one of --checkpoint_dir (continue pretraining), --model_name or --model_config (random init).")


def main(fabric: L.Fabric, job: Job) -> Any:
    from litft.checkpoint import inspect_checkpoint, load_state_dict
    from litft.prepare import read_meta
    from litft.tokenizer import check_tokenizer_matches, load_tokenizer
    from litft.train import data as data_module
    from litft.train.loop import Run, fit
    from litft.train.schedule import build_optimizer
    from litft.train.state import CheckpointSpec, find_resume_dir, read_progress

    method = get_method(job.method)
    meta = read_meta(job.data_dir, method.data_kind)

    # ---- architecture, base weights and tokenizer
    base_info = None
    if job.checkpoint_dir is not None:
        base_info = inspect_checkpoint(job.checkpoint_dir)
        if base_info.method in ("lora", "adapter_v2"):
            raise LitftError(
                f"{job.checkpoint_dir} is a {base_info.method} run, not a full checkpoint; merge it first "
                "(`litft merge_lora`) or start from its base."
            )
        config = base_info.config
    else:
        config = resolve_config(job.model_config if job.model_config is not None else job.model_name)
    tokenizer_dir = Path(job.tokenizer_dir or job.checkpoint_dir or meta.get("tokenizer_dir") or "")
    if not tokenizer_dir.is_dir():
        raise LitftError("no tokenizer found for the checkpoints; pass --tokenizer_dir (the directory the data was prepared with).")
    check_tokenizer_matches(meta, tokenizer_dir)
    if int(meta["vocab_size"]) > config.padded_vocab_size:
        raise LitftError(
            f"the data uses token ids up to {meta['vocab_size'] - 1} but the model's vocabulary has {config.padded_vocab_size}; "
            "choose a model config with a larger vocab_size."
        )
    seq_len = job.train.max_seq_length or config.block_size
    if seq_len > config.block_size:
        raise LitftError(f"--train.max_seq_length {seq_len} exceeds the model's block_size {config.block_size}; lower it.")

    # ---- resume point
    resume_dir = find_resume_dir(job.resume, job.out_dir)
    if resume_dir is not None:
        saved = read_progress(resume_dir)
        fabric.print(f"resuming from {resume_dir} (step {saved.step})")

    fabric.seed_everything(job.seed)
    rank, world = fabric.global_rank, fabric.world_size

    # ---- data
    if method.data_kind == "pretrain":
        train_stream, val_source = data_module.open_pretrain(
            job.data_dir, block_size=seq_len, micro_batch_size=job.train.micro_batch_size, rank=rank, world_size=world,
            seed=job.seed, shuffle=job.data.shuffle,
        )
    else:
        train_stream, val_source = data_module.open_finetune(
            job.data_dir, max_length=seq_len + 1, micro_batch_size=job.train.micro_batch_size, rank=rank, world_size=world,
            seed=job.seed, shuffle=job.data.shuffle, group_by_length=job.data.group_by_length,
            pad_id=int(meta.get("eos_id") or 0),
        )

    # ---- model: built with the method's trainable parameters, then base (and resumed) weights loaded
    fsdp = is_fsdp(fabric)
    weights_source = resume_dir if (resume_dir is not None and not method.delta_only) else (job.checkpoint_dir)
    loads_full_weights = weights_source is not None
    with fabric.init_module(empty_init=fsdp or (loads_full_weights and not method.delta_only)):
        from litft.model import build_model

        model = build_model(method.name, config, job.lora, job.adapter, device="meta" if fsdp else fabric.device)
    model.max_seq_length = seq_len
    method.prepare(model)
    states = []
    if weights_source is not None:
        states.append(load_state_dict(Path(weights_source) / "lit_model.pth"))
    if resume_dir is not None and method.delta_only:
        states.append(load_state_dict(resume_dir / method.weights_file))
    if states and not fsdp:
        load_weights(model, method.name, states[0], states[1] if len(states) > 1 else None)
    if not job.quiet:
        fabric.print(f"{method.name}: {count_parameters(model)}")
    model = fabric.setup_module(model)
    if states and fsdp:
        from litft.train.state import load_weights_into

        for state in states:
            load_weights_into(fabric, model, state)
    del states
    optimizer = fabric.setup_optimizers(build_optimizer(model, job.optimizer, fabric.device))

    extra_files = {}
    prompt_file = Path(job.data_dir) / "prompt_style.yaml"
    if prompt_file.is_file():
        extra_files["prompt_style.yaml"] = prompt_file.read_text(encoding="utf-8")
    spec = CheckpointSpec(
        method=method.name,
        config=config,
        source_dir=tokenizer_dir,
        base_checkpoint_dir=Path(job.checkpoint_dir) if method.delta_only else None,
        lora=job.lora,
        adapter=job.adapter,
        hyperparameters=job.hyperparameters(),
        extra_files=extra_files,
    )
    counts = count_parameters(model)
    flops = None
    if fabric.device.type == "cuda":  # forward 2N, backward 2N through the network + 2T for weight gradients, per token
        flops = (4 * counts.total + 2 * counts.trainable) * seq_len
    result = fit(
        fabric,
        Run(
            method=method, model=model, optimizer=optimizer, train_stream=train_stream, val_source=val_source,
            train=job.train, eval=job.eval, optimizer_args=job.optimizer, out_dir=Path(job.out_dir), checkpoint=spec,
            tokenizer=load_tokenizer(tokenizer_dir) if method.sample_generation else None, logger=job.logger,
            quiet=job.quiet, resume_from=resume_dir, flops_per_sample=flops,
            dtype=next(model.parameters()).dtype,
        ),
    )
    if fabric.device.type == "cuda" and rank == 0 and not job.quiet:
        fabric.print(f"peak memory {torch.cuda.max_memory_allocated() / 1e9:.2f} GB")
    return result


# ------------------------------------------------------------------------------------------ commands

PRETRAIN_TRAIN = TrainArgs(
    global_batch_size=64, micro_batch_size=4, max_tokens=None, max_steps=None, lr_warmup_steps=200,
    lr_schedule="cosine", min_lr=4e-5, max_norm=1.0, save_interval=1000, log_interval=10,
)
FINETUNE_TRAIN = TrainArgs(
    global_batch_size=16, micro_batch_size=1, epochs=1, lr_warmup_steps=100, lr_schedule="cosine", max_norm=1.0,
    save_interval=1000, log_interval=1,
)


def pretrain(
    data_dir: Path,
    out_dir: Path = Path("out/pretrain"),
    model_name: Optional[str] = None,
    model_config: Optional[Path] = None,
    checkpoint_dir: Optional[Path] = None,
    tokenizer_dir: Optional[Path] = None,
    resume: Optional[str] = None,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: Union[int, str] = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: bool = False,
    seed: int = 42,
    train: TrainArgs = PRETRAIN_TRAIN,
    eval: EvalArgs = EvalArgs(interval=1000, max_iters=100, max_new_tokens=0),
    optimizer: OptimizerArgs = OptimizerArgs(lr=4e-4, weight_decay=0.1, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice = "csv",
    quiet: bool = False,
):
    """Pretrain from random init (--model_name / --model_config) or continue pretraining --checkpoint_dir.

    Args:
        data_dir: A `litft prepare pretrain` directory (train.bin, val.bin, meta.json).
        out_dir: Where step-NNNNNN/ and final/ checkpoints and logs/metrics.csv go.
        model_name: A litgpt config name (e.g. Llama-2-7b-hf) or a litft tiny one, for random init.
        model_config: A model_config.yaml for random init.
        checkpoint_dir: A litgpt checkpoint to continue pretraining from.
        tokenizer_dir: The tokenizer to store with checkpoints (default: checkpoint_dir, else the data's tokenizer).
        resume: `auto` (the newest checkpoint in out_dir, if any) or a step directory to resume exactly from.
        precision: 32-true, bf16-true, bf16-mixed, 16-mixed (default: bf16-true on GPUs that support it, else 32-true).
        accelerator: cpu, cuda or auto.
        devices: Devices per node.
        num_nodes: Nodes.
        strategy: auto, ddp or fsdp (transformer blocks wrapped; sharded optimizer state).
        activation_checkpointing: Recompute each block's activations in backward (FSDP only).
        seed: Seed of initialisation, data order and dropout.
        train: Batch sizes, length, schedule, clipping, checkpoint interval.
        eval: Validation interval and size.
        optimizer: AdamW settings.
        data: Shuffling.
        logger: csv, or tensorboard (also writes the CSV).
        quiet: Only errors and the final line.
    """
    return run(Job(
        method="pretrain", data_dir=data_dir, out_dir=out_dir, model_name=model_name, model_config=model_config,
        checkpoint_dir=checkpoint_dir, tokenizer_dir=tokenizer_dir, resume=resume, precision=precision,
        accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy=strategy,
        activation_checkpointing=activation_checkpointing, seed=seed, train=train, eval=eval, optimizer=optimizer,
        data=data, logger=logger, quiet=quiet,
    ))


def _finetune(method: str, **kwargs: Any) -> Any:
    return run(Job(method=method, **kwargs))


def finetune_full(
    checkpoint_dir: Path,
    data_dir: Path,
    out_dir: Path = Path("out/finetune/full"),
    resume: Optional[str] = None,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: Union[int, str] = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: bool = False,
    seed: int = 1337,
    train: TrainArgs = FINETUNE_TRAIN,
    eval: EvalArgs = EvalArgs(interval=600, max_iters=100, max_new_tokens=100),
    optimizer: OptimizerArgs = OptimizerArgs(lr=2e-5, weight_decay=0.02, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice = "csv",
    quiet: bool = False,
):
    """Fine-tune every parameter of a checkpoint on instruction data.

    Args:
        checkpoint_dir: The litgpt checkpoint to fine-tune.
        data_dir: A `litft prepare finetune` directory made with this checkpoint's tokenizer.
        out_dir: Where step-NNNNNN/ and final/ checkpoints and logs/metrics.csv go.
        resume: `auto` (the newest checkpoint in out_dir, if any) or a step directory to resume exactly from.
        precision: 32-true, bf16-true, bf16-mixed, 16-mixed (default: bf16-true on GPUs that support it, else 32-true).
        accelerator: cpu, cuda or auto.
        devices: Devices per node.
        num_nodes: Nodes.
        strategy: auto, ddp or fsdp.
        activation_checkpointing: Recompute each block's activations in backward (FSDP only).
        seed: Seed of data order and dropout.
        train: Batch sizes, length, schedule, clipping, checkpoint interval.
        eval: Validation interval, size and sample length.
        optimizer: AdamW settings.
        data: Shuffling and length grouping.
        logger: csv, or tensorboard (also writes the CSV).
        quiet: Only errors and the final line.
    """
    return _finetune("full", **_local_args(locals()))


def finetune_lora(
    checkpoint_dir: Path,
    data_dir: Path,
    out_dir: Path = Path("out/finetune/lora"),
    resume: Optional[str] = None,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: Union[int, str] = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: bool = False,
    seed: int = 1337,
    lora: LoRASettings = LoRASettings(),
    train: TrainArgs = FINETUNE_TRAIN,
    eval: EvalArgs = EvalArgs(interval=100, max_iters=100, max_new_tokens=100),
    optimizer: OptimizerArgs = OptimizerArgs(lr=3e-4, weight_decay=0.0, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice = "csv",
    quiet: bool = False,
):
    """Fine-tune a checkpoint with LoRA; checkpoints keep only the LoRA weights (lit_model.pth.lora).

    Args:
        checkpoint_dir: The litgpt checkpoint to fine-tune.
        data_dir: A `litft prepare finetune` directory made with this checkpoint's tokenizer.
        out_dir: Where step-NNNNNN/ and final/ checkpoints and logs/metrics.csv go.
        resume: `auto` (the newest checkpoint in out_dir, if any) or a step directory to resume exactly from.
        precision: 32-true, bf16-true, bf16-mixed, 16-mixed (default: bf16-true on GPUs that support it, else 32-true).
        accelerator: cpu, cuda or auto.
        devices: Devices per node.
        num_nodes: Nodes.
        strategy: auto, ddp or fsdp.
        activation_checkpointing: Recompute each block's activations in backward (FSDP only).
        seed: Seed of LoRA initialisation, data order and dropout.
        lora: Rank, alpha, dropout and the projections LoRA is applied to.
        train: Batch sizes, length, schedule, clipping, checkpoint interval.
        eval: Validation interval, size and sample length.
        optimizer: AdamW settings.
        data: Shuffling and length grouping.
        logger: csv, or tensorboard (also writes the CSV).
        quiet: Only errors and the final line.
    """
    return _finetune("lora", **_local_args(locals()))


def finetune_adapter_v2(
    checkpoint_dir: Path,
    data_dir: Path,
    out_dir: Path = Path("out/finetune/adapter_v2"),
    resume: Optional[str] = None,
    precision: PrecisionChoice = None,
    accelerator: str = "auto",
    devices: Union[int, str] = 1,
    num_nodes: int = 1,
    strategy: StrategyChoice = "auto",
    activation_checkpointing: bool = False,
    seed: int = 1337,
    adapter: AdapterV2Settings = AdapterV2Settings(),
    train: TrainArgs = FINETUNE_TRAIN,
    eval: EvalArgs = EvalArgs(interval=600, max_iters=100, max_new_tokens=100),
    optimizer: OptimizerArgs = OptimizerArgs(lr=1e-3, weight_decay=0.02, beta1=0.9, beta2=0.95),
    data: DataArgs = DataArgs(),
    logger: LoggerChoice = "csv",
    quiet: bool = False,
):
    """Fine-tune a checkpoint with adapter-v2; checkpoints keep only the adapter weights (lit_model.pth.adapter_v2).

    Args:
        checkpoint_dir: The litgpt checkpoint to fine-tune.
        data_dir: A `litft prepare finetune` directory made with this checkpoint's tokenizer.
        out_dir: Where step-NNNNNN/ and final/ checkpoints and logs/metrics.csv go.
        resume: `auto` (the newest checkpoint in out_dir, if any) or a step directory to resume exactly from.
        precision: 32-true, bf16-true, bf16-mixed, 16-mixed (default: bf16-true on GPUs that support it, else 32-true).
        accelerator: cpu, cuda or auto.
        devices: Devices per node.
        num_nodes: Nodes.
        strategy: auto, ddp or fsdp.
        activation_checkpointing: Recompute each block's activations in backward (FSDP only).
        seed: Seed of data order.
        adapter: Adapter prompt length and first adapted layer.
        train: Batch sizes, length, schedule, clipping, checkpoint interval.
        eval: Validation interval, size and sample length.
        optimizer: AdamW settings.
        data: Shuffling and length grouping.
        logger: csv, or tensorboard (also writes the CSV).
        quiet: Only errors and the final line.
    """
    return _finetune("adapter_v2", **_local_args(locals()))


def _local_args(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if not key.startswith("_")}
