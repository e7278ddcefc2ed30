"""One training run from its settings: check them, start the processes, and in each build what the loop needs.

`run(job)` is what every training command calls. In every process `train_in_process` resolves the
architecture and tokenizer, finds the resume point, opens the data streams, builds the method's model
with its base (and resumed) weights, sets it up with Fabric and hands it all to `fit`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch

from litft.common.errors import LitftError
from litft.models.build import count_parameters
from litft.models.methods import FULL_WEIGHTS, Method, MethodSettings, get_method
from litft.models.quantize import check_quantize, dequantized_copy_bytes, resolve_quantize
from litft.train.args import (
    DataArgs,
    EvalArgs,
    OptimizerArgs,
    PreferenceArgs,
    TrainArgs,
    check_paged_optimizer,
    validate_args,
)
from litft.train.fabric_setup import checkpoint_blocks, is_fsdp, launch, make_fabric, parameters_kept_shared
from litft.train.host_memory import keep_freed_memory
from litft.train.run_folder import RUN_KIND, check_run_dir, claim_run_dir, run_identity


@dataclass
class Job:
    """Every setting of one run, as the command line gave them (`settings`: the method's group, e.g. `--lora.*`)."""

    method: str
    data_dir: Path
    out_dir: Path
    checkpoint_dir: Path | None = None
    model_name: str | None = None
    model_config: Path | None = None
    tokenizer_dir: Path | None = None
    resume: str | None = None
    init_from: Path | None = None
    replay: float = 0.0
    overwrite: bool = False
    precision: str | None = None
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    activation_checkpointing: bool | Literal["auto"] = "auto"
    quantize: str | None = None
    seed: int = 42
    train: TrainArgs = field(default_factory=TrainArgs)
    eval: EvalArgs = field(default_factory=EvalArgs)
    optimizer: OptimizerArgs = field(default_factory=OptimizerArgs)
    data: DataArgs = field(default_factory=DataArgs)
    settings: MethodSettings | None = None
    preference: PreferenceArgs | None = None  # preference methods' loss (litft finetune dpo|kto)
    logger: str | list[str] = "csv"
    quiet: bool = False

    @classmethod
    def from_command(cls, method: str, arguments: dict[str, Any]) -> Job:
        """The job of a training command's parameters; the method's settings group becomes `settings`."""
        group = get_method(method).settings_group
        arguments = dict(arguments)
        settings = arguments.pop(group) if group is not None else None
        return cls(method=method, settings=settings, **arguments)

    def hyperparameters(self) -> dict[str, Any]:
        """What the run's checkpoints record in hyperparameters.yaml (save_checkpoint adds the method's settings)."""
        values = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name in ("settings", "method") or (item.name == "quantize" and value is None):
                continue
            if dataclasses.is_dataclass(value):
                value = asdict(value)
            elif isinstance(value, Path):
                value = str(value.resolve())
            values[item.name] = value
        return values


def run(job: Job) -> Any:
    """Validate, build the Fabric and train in every process; returns rank 0's (or this rank's) `Result`."""
    method = get_method(job.method)
    _check_job(job, method)
    job.quantize = resolve_quantize(job.quantize)
    auto_checkpointing = job.activation_checkpointing == "auto"
    if auto_checkpointing:
        job.activation_checkpointing = _longest_row(job, method) >= AUTO_CHECKPOINTING_TOKENS
    fabric = make_fabric(
        accelerator=job.accelerator,
        devices=job.devices,
        num_nodes=job.num_nodes,
        strategy=job.strategy,
        precision=job.precision,
        activation_checkpointing=job.activation_checkpointing,
        block_class=method.block_class,
    )
    validate_args(job.train, job.eval, job.optimizer, fabric.world_size)
    if auto_checkpointing and job.activation_checkpointing and not job.quiet:
        fabric.print(
            f"activation checkpointing on: training rows reach {AUTO_CHECKPOINTING_TOKENS:,} tokens or more "
            "(--activation_checkpointing false turns it off)"
        )
    check_paged_optimizer(job.optimizer, fabric.device.type)
    if job.quantize is not None:
        check_quantize(job.quantize, fabric.device)
        if fabric.world_size > 1:
            raise LitftError(
                "--quantize trains on one device: FSDP flattens parameters of one dtype while the 4/8-bit weights keep "
                "their scales outside those tensors, and DDP over them is untested; use --devices 1 --num_nodes 1."
            )
    check_run_dir(
        job.out_dir,
        _identity(job),
        resume=job.resume is not None,
        overwrite=job.overwrite,
        inputs=(job.data_dir, job.checkpoint_dir, job.tokenizer_dir),
    )
    return launch(fabric, train_in_process, job)


# From rows of this many tokens `--activation_checkpointing auto` recomputes the blocks in backward: at SmolLM2-135M's
# shape and 1,536 tokens the blocks' activations (about 1.8 GB) outweigh the model twice over, and recomputing them
# costs one more forward pass of the blocks per step (bench/long_memory.py).
AUTO_CHECKPOINTING_TOKENS = 1024


def _longest_row(job: Job, method: Method) -> int:
    """The most tokens one training row can hold: the sequence length, or the longest record when rows are not
    packed and every record is shorter."""
    from litft.prepare.format import read_meta

    config = _architecture(job)
    seq_len = job.train.max_seq_length or config.block_size
    if method.data_kind == "pretrain" or job.data.packing:
        return seq_len
    longest_record = int(read_meta(job.data_dir, method.data_kind)["splits"]["train"]["longest"])
    return min(seq_len, longest_record - 1)  # a record's last token is only a target


def _identity(job: Job) -> dict[str, Any]:
    base = job.checkpoint_dir or job.model_config or job.model_name
    base = str(Path(base).resolve()) if isinstance(base, Path) else base
    return run_identity(job.method, job.hyperparameters(), job.data_dir, base)


def _check_job(job: Job, method: Method) -> None:
    if not Path(job.data_dir).is_dir():
        raise LitftError(f"data directory {job.data_dir} does not exist; run `litft prepare {method.data_kind}` first.")
    if method.needs_base and job.checkpoint_dir is None:
        raise LitftError(f"{method.name} fine-tuning starts from a checkpoint; pass --checkpoint_dir.")
    if not method.needs_base:
        given = [name for name in ("checkpoint_dir", "model_name", "model_config") if getattr(job, name) is not None]
        if len(given) != 1:
            raise LitftError(
                "pass exactly one of --checkpoint_dir (continue pretraining), --model_name "
                "or --model_config (random init)."
            )
    method.check_quantize(job.quantize)
    if job.data.packing and method.data_kind != "finetune":
        raise LitftError("--data.packing applies to fine-tuning only (pretraining windows are already full); drop it.")


def _architecture(job: Job) -> Any:
    """The litgpt Config to build: the base checkpoint's, or a named/YAML config for random init."""
    from litft.models.build import resolve_config
    from litft.models.checkpoint import inspect_checkpoint

    if job.checkpoint_dir is None:
        return resolve_config(job.model_config if job.model_config is not None else job.model_name)
    base = inspect_checkpoint(job.checkpoint_dir)
    if get_method(base.method).delta_only:
        raise LitftError(
            f"{job.checkpoint_dir} is a {base.method} run, not a full checkpoint; merge it first "
            "(`litft merge_lora`) or start from its base."
        )
    return base.config


def _tokenizer_dir(job: Job, meta: dict[str, Any]) -> Path:
    """Where the tokenizer files the checkpoints will carry come from (they must match the data's)."""
    from litft.models.tokenizer import check_tokenizer_matches

    candidates = (job.tokenizer_dir, job.checkpoint_dir, meta.get("tokenizer_dir"))
    found = next((Path(path) for path in candidates if path is not None), None)
    if found is None or not found.is_dir():
        raise LitftError(
            "no tokenizer found for the checkpoints; pass --tokenizer_dir (the directory the data was prepared with)."
        )
    check_tokenizer_matches(meta, found)
    return found


def _open_data(job: Job, method: Method, meta: dict[str, Any], seq_len: int, fabric: L.Fabric, continuation: Any):
    """(train stream, validation source or None) for this rank; with --replay the new records and the replayed ones."""
    from litft.train import data

    if method.objective is not None:
        from litft.train.preference_data import open_preference

        return open_preference(
            job.data_dir,
            paired=method.objective == "dpo",
            max_length=seq_len + 1,
            micro_batch_size=job.train.micro_batch_size,
            rank=fabric.global_rank,
            world_size=fabric.world_size,
            seed=job.seed,
            shuffle=job.data.shuffle,
            group_by_length=job.data.group_by_length,
            pad_id=int(meta.get("eos_id") or 0),
        )
    common = dict(
        micro_batch_size=job.train.micro_batch_size,
        rank=fabric.global_rank,
        world_size=fabric.world_size,
        seed=job.seed,
        shuffle=job.data.shuffle,
    )
    if method.data_kind == "pretrain":
        return data.open_pretrain(job.data_dir, block_size=seq_len, **common)
    return data.open_finetune(
        job.data_dir,
        max_length=seq_len + 1,
        group_by_length=job.data.group_by_length,
        packing=job.data.packing,
        pad_id=int(meta.get("eos_id") or 0),
        replay=(continuation.old_data_dir, continuation.replay_indices)
        if continuation and continuation.replay_indices
        else None,
        **common,
    )


def _build_model(
    fabric: L.Fabric, job: Job, method: Method, config: Any, seq_len: int, weights_dir: Path | None
) -> torch.nn.Module:
    """The method's model with base (and trained) weights, set up with Fabric; `weights_dir` is the checkpoint
    whose trained weights to load: the resumed step, or with --init_from the earlier run's.

    Without FSDP the weights are loaded before setup; under FSDP the model is built on the meta device,
    materialised sharded by setup, and each rank then copies in its shard.
    """
    from litft.models.build import build_model, embeddings_tied, load_weights, tie_embeddings
    from litft.models.checkpoint import load_state_dict
    from litft.models.loss import accept_targets
    from litft.train.state import load_weights_into

    fsdp = is_fsdp(fabric)
    # A full/pretrain run saved all weights; LoRA/adapter runs saved only theirs, on top of the base.
    full_weights_dir = weights_dir if (weights_dir is not None and not method.delta_only) else job.checkpoint_dir
    states = []
    if full_weights_dir is not None:
        states.append(load_state_dict(Path(full_weights_dir) / FULL_WEIGHTS))
    if weights_dir is not None and method.delta_only:
        states.append(load_state_dict(weights_dir / method.weights_file))
    if job.quantize is not None:  # QLoRA: the base arrives quantized, the weights already in
        model = _quantized_model(fabric, job, method, config, states)
    else:
        # Initialising weights that are overwritten right away is wasted work (large models: minutes).
        with fabric.init_module(empty_init=fsdp or (bool(states) and not method.delta_only)):
            model = build_model(method.name, config, job.settings, device="meta" if fsdp else fabric.device)
    model.max_seq_length = seq_len
    method.prepare(model)
    accept_targets(model)  # the loss without [B, T, vocab] logits, packed rows or not (litft.models.loss)
    if states and not fsdp and job.quantize is None:
        load_weights(model, method.name, states[0], states[1] if len(states) > 1 else None)
    tied_under_fsdp = fsdp and bool(states) and embeddings_tied(states[0])
    if tied_under_fsdp:  # load_weights ties the others as it loads
        tie_embeddings(model)
    if not job.quiet:
        on_base = f" on a {job.quantize} base" if job.quantize is not None else ""
        fabric.print(f"{method.name}{on_base}: {count_parameters(model)}")
    if job.activation_checkpointing and not fsdp:  # under FSDP the strategy checkpoints the blocks it wraps
        checkpoint_blocks(model, method.block_class)
    with parameters_kept_shared() if tied_under_fsdp else contextlib.nullcontext():
        model = fabric.setup_module(model)
    if fsdp:
        for state in states:
            load_weights_into(fabric, model, state)
    return model


def _quantized_model(
    fabric: L.Fabric, job: Job, method: Method, config: Any, states: list[dict[str, torch.Tensor]]
) -> torch.nn.Module:
    """The frozen base quantized layer by layer on the device as it loads (litft.models.quantize); the LoRA
    weights (resumed, or freshly initialised) in the run's precision."""
    from litft.models.quantize import build_quantized_model

    with fabric.init_tensor():
        dtype = torch.get_default_dtype()  # the run's precision, as Fabric would create the model in
    if fabric.device.type == "cpu":  # before the load, whose per-layer copies would fragment the heap as well
        keep_freed_memory(map_from=dequantized_copy_bytes(method.name, config, job.settings, dtype))
    trained = states[1] if len(states) > 1 else None
    return build_quantized_model(
        method.name, config, job.settings, states[0], trained, job.quantize, dtype, fabric.device
    )


def _checkpoint_spec(job: Job, method: Method, config: Any, tokenizer_dir: Path) -> Any:
    from litft.train.state import CheckpointSpec

    prompt_file = Path(job.data_dir) / "prompt_style.yaml"
    extra_files = {"prompt_style.yaml": prompt_file.read_text(encoding="utf-8")} if prompt_file.is_file() else {}
    return CheckpointSpec(
        method=method.name,
        config=config,
        source_dir=tokenizer_dir,
        base_checkpoint_dir=Path(job.checkpoint_dir) if method.delta_only else None,
        settings=job.settings,
        hyperparameters=job.hyperparameters(),
        extra_files=extra_files,
    )


def train_in_process(fabric: L.Fabric, job: Job) -> Any:
    """Build everything for this process and run the loop; returns the loop's `Result`."""
    from litft.models.tokenizer import load_tokenizer
    from litft.prepare.format import read_meta
    from litft.train.continuation import resolve_continuation, write_data_record
    from litft.train.loop import Run, fit
    from litft.train.schedule import build_optimizer
    from litft.train.state import find_resume_dir, read_progress

    method = get_method(job.method)
    meta = read_meta(job.data_dir, method.data_kind)
    config = _architecture(job)
    tokenizer_dir = _tokenizer_dir(job, meta)
    if int(meta["vocab_size"]) > config.padded_vocab_size:
        raise LitftError(
            f"the data uses token ids up to {meta['vocab_size'] - 1} "
            f"but the model's vocabulary has {config.padded_vocab_size}; "
            "choose a model config with a larger vocab_size."
        )
    seq_len = job.train.max_seq_length or config.block_size
    if seq_len > config.block_size:
        raise LitftError(
            f"--train.max_seq_length {seq_len} exceeds the model's block_size {config.block_size}; lower it."
        )

    continuation = resolve_continuation(job.init_from, job.replay, job.seed, method, job.checkpoint_dir, job.data_dir)
    if fabric.global_rank == 0:
        claim_run_dir(job.out_dir, _identity(job), overwrite=job.overwrite)
        write_data_record(job.out_dir, job.data_dir, continuation, job.replay, job.seed, RUN_KIND)
    fabric.barrier()
    resume_dir = find_resume_dir(job.resume, job.out_dir)
    if resume_dir is not None:
        fabric.print(f"resuming from {resume_dir} (step {read_progress(resume_dir).step})")
    # A resumed run continues its own weights; a fresh one with --init_from starts from the earlier run's.
    start_dir = resume_dir if resume_dir is not None or continuation is None else continuation.checkpoint
    fabric.seed_everything(job.seed)
    train_stream, val_source = _open_data(job, method, meta, seq_len, fabric, continuation)
    model = _build_model(fabric, job, method, config, seq_len, start_dir)
    optimizer = fabric.setup_optimizers(build_optimizer(model, job.optimizer, fabric.device))
    objective = None
    if method.objective is not None:
        from litft.train.reference import preference_objective

        sources = [train_stream, val_source]
        objective = preference_objective(fabric, job, method, config, model, sources, resumed=resume_dir is not None)

    flops = None
    if fabric.device.type == "cuda":  # forward 2N, backward 2N through the network + 2T for weight gradients, per token
        counts = count_parameters(model)
        flops = (4 * counts.total + 2 * counts.trainable) * seq_len
    result = fit(
        fabric,
        Run(
            method=method,
            model=model,
            optimizer=optimizer,
            train_stream=train_stream,
            val_source=val_source,
            train=job.train,
            eval=job.eval,
            optimizer_args=job.optimizer,
            out_dir=Path(job.out_dir),
            checkpoint=_checkpoint_spec(job, method, config, tokenizer_dir),
            tokenizer=load_tokenizer(tokenizer_dir) if method.sample_generation else None,
            logger=job.logger,
            quiet=job.quiet,
            resume_from=resume_dir,
            flops_per_sample=flops,
            dtype=next(model.parameters()).dtype,
            objective=objective,
        ),
    )
    if fabric.device.type == "cuda" and fabric.global_rank == 0 and not job.quiet:
        fabric.print(f"peak memory {torch.cuda.max_memory_allocated() / 1e9:.2f} GB")
    return result
