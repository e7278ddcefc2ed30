"""Merge a LoRA run into its base: a full checkpoint anyone can load, convert or fine-tune again.

A QLoRA run (trained on a 4/8-bit base, litft.models.quantize) is merged into the full-precision base it was
quantized from: the result is a full-precision model, which differs from the quantized base + LoRA the run
trained by the quantization error only.
"""

from __future__ import annotations

from pathlib import Path

import torch

from litft.common.errors import LitftError
from litft.common.outputs import (
    check_in_place_files,
    check_output_dir,
    record_own_files,
)
from litft.models.checkpoint import (
    CHECKPOINT_KIND,
    FULL_WEIGHTS,
    CheckpointInfo,
    inspect_checkpoint,
    load_model,
    save_checkpoint,
    save_state_dict_file,
)
from litft.models.methods import METHODS, get_method


def full_precision_note(info: CheckpointInfo) -> str:
    """The sentence that says a QLoRA run's merge/export is full precision; empty for other runs."""
    mode = info.hyperparameters.get("quantize") if get_method(info.method).delta_only else None
    if not mode:
        return ""
    return f" The run trained on a {mode} base; the merged weights are full precision (its unquantized base + LoRA)."


@torch.inference_mode()
def merged_state_dict(info: CheckpointInfo) -> dict[str, torch.Tensor]:
    """Base + a run's trained weights folded into plain litgpt GPT weights (LoRA: W + B·A·alpha/r)."""
    model, _ = load_model(info.path, base_dir=info.base_dir)
    return get_method(info.method).merged_weights(model)


def merge_lora(
    checkpoint_dir: Path, out_dir: Path | None = None, base_dir: Path | None = None, overwrite: bool = False
) -> None:
    """Merge a LoRA run's weights into its base model.

    Args:
        checkpoint_dir: The LoRA run directory (lit_model.pth.lora + hyperparameters.yaml naming the base). A QLoRA
            run is merged into its full-precision base, so the result is full precision.
        out_dir: Where to write the merged full checkpoint; by default lit_model.pth is added to the run
            directory itself, as `litgpt merge_lora` does.
        base_dir: The base checkpoint, when it moved since training (default: the one the run recorded).
        overwrite: Write into an --out_dir that holds files litft did not write (only checkpoint files are replaced).
    """
    info = inspect_checkpoint(checkpoint_dir)
    if out_dir is None and (info.path / FULL_WEIGHTS).is_file() and _holds_mergeable_weights(info.path):
        print(f"{info.path} already holds merged weights ({FULL_WEIGHTS}).")
        return
    method = get_method(info.method)
    if method.merged_weights is None:
        raise LitftError(f"{checkpoint_dir} is a {info.method} checkpoint, not a LoRA run; there is nothing to merge.")
    if base_dir is not None:
        info.base_dir = Path(base_dir)
    inputs = (checkpoint_dir, info.path, info.base_dir)
    if out_dir is not None:
        check_output_dir(out_dir, CHECKPOINT_KIND, overwrite=overwrite, inputs=inputs)
    else:
        check_in_place_files(info.path, [FULL_WEIGHTS], overwrite)
    state = merged_state_dict(info)
    if out_dir is None:
        save_state_dict_file(state, info.path / FULL_WEIGHTS)
        record_own_files(info.path, [FULL_WEIGHTS], CHECKPOINT_KIND)
        print(f"Merged weights written to {info.path / FULL_WEIGHTS}.{full_precision_note(info)}")
        return
    dropped = {"method", "quantize", *method.settings_fields(info.settings)}
    hparams = {k: v for k, v in info.hyperparameters.items() if k not in dropped}
    hparams["merged_from"] = str(info.path.resolve())
    save_checkpoint(
        out_dir,
        overwrite=overwrite,
        inputs=inputs,
        method="full",
        state_dict=state,
        config=info.config,
        source_dir=info.path,
        hyperparameters=hparams,
    )
    print(f"Merged checkpoint written to {out_dir}.{full_precision_note(info)}")


def _holds_mergeable_weights(directory: Path) -> bool:
    return any(m.merged_weights and (directory / m.weights_file).is_file() for m in METHODS.values())
