"""litgpt-compatible checkpoint directories: save atomically, inspect, load lazily.

A directory holds `lit_model.pth` (full weights) or, for LoRA/adapter-v2 runs, only the trained weights in
the method's own file (`lit_model.pth.lora` / `lit_model.pth.adapter_v2`, see litft.models.methods), plus
`model_config.yaml` (the base architecture), tokenizer files and `hyperparameters.yaml`. The hyperparameters
carry the method, the base checkpoint and the `lora_*`/`adapter_*` fields, so nobody repeats `--lora_r` to load
or merge a run; they use litgpt's key names so `litgpt merge_lora` and `litgpt generate_adapter_v2` read litft
runs too.
"""

from __future__ import annotations

import pickle
import shutil
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from litgpt.config import Config
from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors_file

from litft.common.errors import LitftError
from litft.common.io import atomic_path
from litft.common.outputs import output_dir
from litft.common.text import parse_yaml
from litft.models.build import build_model, config_from_fields, load_weights, share_tied_embeddings
from litft.models.methods import FULL_WEIGHTS, METHODS, MethodSettings, get_method

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
)
# Files that tell generation how to format prompts and when to stop; they travel with the tokenizer.
SIDE_FILES = ("generation_config.json", "prompt_style.yaml", "chat_template.jinja")


def save_config(config: Config, path: Path) -> None:
    """Write model_config.yaml as litgpt does (every Config field), atomically."""
    fields = {k: v for k, v in vars(config).items() if k != "rope_n_elem" and k in Config.__dataclass_fields__}
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(fields, sort_keys=False), encoding="utf-8")


def save_state_dict_file(state_dict: Mapping[str, torch.Tensor], path: Path) -> None:
    """torch.save, atomically: a kill mid-write leaves the previous file (or none), never a torn one. Tied
    embeddings are written once (litft.models.build.share_tied_embeddings)."""
    with atomic_path(path) as tmp:
        torch.save(share_tied_embeddings(state_dict), tmp)


def copy_tokenizer_files(source_dir: Path | None, target_dir: Path) -> list[str]:
    """Copy the tokenizer (and prompt-style) files that exist; warn when there is no tokenizer at all."""
    copied = []
    if source_dir is not None:
        for name in TOKENIZER_FILES + SIDE_FILES:
            if (source_dir / name).is_file():
                shutil.copy2(source_dir / name, target_dir / name)
                copied.append(name)
    if not any(name in TOKENIZER_FILES for name in copied):
        warnings.warn(
            f"no tokenizer files found in {source_dir}; {target_dir} will hold weights and config only.", stacklevel=2
        )
    return copied


CHECKPOINT_KIND = "checkpoint"


def save_checkpoint(
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    inputs: tuple[Path | None, ...] = (),
    flag: str = "--out_dir",
    **contents: Any,
) -> Path:
    """Write a complete checkpoint directory, or nothing: it is built beside `out_dir` and renamed into place.

    `out_dir` may replace an earlier litft checkpoint; any other non-empty folder needs `overwrite`, and even
    then only checkpoint files are replaced (see litft.common.outputs). `contents` are `write_checkpoint_files`'s.
    """
    with output_dir(out_dir, CHECKPOINT_KIND, overwrite=overwrite, inputs=inputs, flag=flag) as staging:
        write_checkpoint_files(staging, **contents)
    return Path(out_dir)


def write_checkpoint_files(
    directory: Path,
    *,
    method: str,
    state_dict: Mapping[str, torch.Tensor],
    config: Config,
    source_dir: Path | None = None,
    base_checkpoint_dir: Path | None = None,
    settings: MethodSettings | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    extra_files: Mapping[str, str] | None = None,
) -> None:
    """Write a checkpoint's files into an existing (staging) directory.

    `state_dict` may be a model's full state dict: only the weights the method trains are kept (all of them
    for pretraining and full fine-tuning, tied embeddings once). `settings` are the method's (LoRA, adapter-v2),
    recorded in hyperparameters.yaml. `source_dir` supplies the tokenizer files (usually the base checkpoint).
    """
    spec = get_method(method)
    weights = share_tied_embeddings({key: value for key, value in state_dict.items() if spec.trains(key, value)})
    hparams: dict[str, Any] = {"method": method}
    if base_checkpoint_dir is not None:
        hparams["checkpoint_dir"] = str(Path(base_checkpoint_dir).resolve())
    hparams.update(spec.settings_fields(settings))
    hparams.update(hyperparameters or {})

    # litgpt's finetune scripts save trainable-only weights under a "model" key; full weights are flat.
    payload = {"model": weights} if spec.delta_only else weights
    torch.save(payload, directory / spec.weights_file)
    save_config(config, directory / "model_config.yaml")
    (directory / "hyperparameters.yaml").write_text(yaml.safe_dump(hparams, sort_keys=False), encoding="utf-8")
    copy_tokenizer_files(source_dir, directory)
    for name, text in (extra_files or {}).items():
        (directory / name).write_text(text, encoding="utf-8")


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load weights without holding a second copy: .pth memory-mapped with weights_only, or safetensors.

    A litgpt-style `{"model": ...}` wrapper is unwrapped. A damaged file is a user error.
    """
    path = Path(path)
    if not path.is_file():
        raise LitftError(f"weights file {path} does not exist; check the checkpoint directory.")
    if path.stat().st_size == 0:
        raise LitftError(
            f"weights file {path} is empty (an interrupted copy or download); re-create or re-download it."
        )
    # torch.save's format is a zip archive; a cut-off copy lacks its end
    if path.suffix != ".safetensors" and not zipfile.is_zipfile(path):
        raise LitftError(
            f"{path} is not a readable checkpoint, truncated or damaged (no complete PyTorch archive); "
            "re-create or re-download it."
        )
    try:
        if path.suffix == ".safetensors":
            return load_safetensors_file(path)
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused a pickled object, which could run code
        raise LitftError(
            f"{path} holds Python objects besides tensors, which litft never unpickles; "
            "re-save it as a plain state dict."
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, SafetensorError, ValueError) as error:
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise LitftError(
            f"{path} is not a readable checkpoint, truncated or damaged ({reason}); re-create or re-download it."
        ) from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise LitftError(f"{path} does not hold a state dict of tensors; it is not a litgpt checkpoint.")
    return state


@dataclass
class CheckpointInfo:
    """What a checkpoint directory holds and how to rebuild its model."""

    path: Path
    method: str
    config: Config
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    base_dir: Path | None = None
    settings: MethodSettings | None = None  # as the run recorded them

    @property
    def weights_path(self) -> Path:
        return self.path / get_method(self.method).weights_file


def inspect_checkpoint(checkpoint_dir: str | Path) -> CheckpointInfo:
    """Read a checkpoint directory's config and method, with one clear message when it is not one."""
    path = Path(checkpoint_dir)
    if not path.is_dir():
        raise LitftError(
            f"checkpoint directory {path} does not exist; check the path or download/convert a model first."
        )
    if not (path / "model_config.yaml").is_file() and (path / "final" / "model_config.yaml").is_file():
        path = path / "final"  # a training run's output directory stands for its final checkpoint
    config_path = path / "model_config.yaml"
    if not config_path.is_file():
        raise LitftError(
            f"{path} has no model_config.yaml; it is not a litgpt checkpoint "
            "(convert an HF model with `litft convert hf_to_lit`)."
        )
    hparams_path = path / "hyperparameters.yaml"
    hparams = _read_yaml(hparams_path) if hparams_path.is_file() else {}
    recorded = hparams.get("method")
    if recorded not in (None, *METHODS):
        raise LitftError(f"{hparams_path} names method {recorded!r}; it must be one of {', '.join(METHODS)}.")
    method = _weights_method(path, recorded)
    fields = {k: v for k, v in _read_yaml(config_path).items() if k in Config.__dataclass_fields__}
    config = config_from_fields(fields, str(config_path))
    info = CheckpointInfo(path=path, method=method, config=config, hyperparameters=hparams)
    spec = get_method(method)
    if spec.delta_only:
        if "checkpoint_dir" not in hparams:
            raise LitftError(f"{hparams_path} does not name the base checkpoint_dir this {method} run was trained on.")
        if not isinstance(hparams["checkpoint_dir"], str):
            raise LitftError(
                f"{hparams_path} sets checkpoint_dir to {hparams['checkpoint_dir']!r}; "
                "it must be the base checkpoint's path."
            )
        info.base_dir = Path(hparams["checkpoint_dir"])
        info.settings = spec.read_settings(hparams, str(hparams_path))
    return info


def _weights_method(path: Path, recorded: str | None) -> str:
    """The method whose weights file the directory holds (`recorded`: the one hyperparameters.yaml names)."""
    if (path / FULL_WEIGHTS).is_file():
        # A merged LoRA run has lit_model.pth beside lit_model.pth.lora: the full weights win, as in litgpt.
        return "full" if recorded is None or get_method(recorded).delta_only else recorded
    if (
        recorded is not None
        and get_method(recorded).delta_only
        and (path / get_method(recorded).weights_file).is_file()
    ):
        return recorded  # a DPO-LoRA run holds LoRA's weights file: the name says which of the two trained it
    for spec in METHODS.values():
        if spec.delta_only and (path / spec.weights_file).is_file():
            return spec.name
    raise LitftError(f"{path} has no lit_model.pth (nor LoRA/adapter weights); it is not a complete checkpoint.")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise LitftError(f"{path} is not valid YAML ({str(error).splitlines()[0]}).") from None
    if not isinstance(data, dict):
        raise LitftError(f"{path} must be a YAML mapping.")
    return data


def load_model(
    checkpoint_dir: str | Path,
    base_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
    quantize: str | None = None,
) -> tuple[torch.nn.Module, CheckpointInfo]:
    """Rebuild the model a checkpoint directory describes: full weights, or base + the run's trained weights.

    `base_dir` overrides the base recorded in a run's hyperparameters (when the base was moved). With `quantize`
    (a litft.models.quantize mode) the frozen Linears are quantized layer by layer on `device` as they load.
    """
    info = inspect_checkpoint(checkpoint_dir)
    if base_dir is not None:
        info.base_dir = Path(base_dir)
    model = build_model(info.method, info.config, info.settings, device="meta", dtype=dtype)
    if get_method(info.method).delta_only:
        base = inspect_checkpoint(info.base_dir)
        base_weights, trained = load_state_dict(base.weights_path), load_state_dict(info.weights_path)
    else:
        base_weights, trained = load_state_dict(info.weights_path), None
    if quantize is not None:
        from litft.models.quantize import build_quantized_model

        dtype = dtype or torch.get_default_dtype()
        model = build_quantized_model(
            info.method, info.config, info.settings, base_weights, trained, quantize, dtype, device
        )
        return model.eval(), info
    # The memory-mapped tensors become the parameters (copy-on-write), so the weights are never copied into a
    # second buffer: a 7B model costs one copy of RAM. A dtype cast or a move to a GPU copies once, as it must.
    load_weights(model, info.method, base_weights, trained, assign=True)
    model.cos, model.sin = model.rope_cache(device=torch.device("cpu"))  # litgpt's RoPE buffers were built on meta
    model = model.to(device=device, dtype=dtype)
    return model.eval(), info
