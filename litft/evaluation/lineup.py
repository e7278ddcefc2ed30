"""The models one `litft evaluate` compares: the base first, then each run, with labels that tell them apart, the
method each was trained with, and the prompt style each answers in."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from litft.common.errors import LitftError

GENERIC_RUN_NAMES = re.compile(r"^(final|latest|checkpoint.*|step-\d+|iter-\d+|epoch-\d+)$")


@dataclass
class ModelSpec:
    label: str
    path: Path
    role: str  # "base" or "run"


def _run_name(path: Path) -> tuple[tuple[str, ...], str]:
    """(folders down to the run folder, suffix) of a checkpoint: `out/lora` and `out/lora/final` are the run `lora`;
    `out/lora/step-000400` is `lora` plus `-step-000400`. The path is made absolute but links are not followed."""
    path = Path(os.path.abspath(path))
    if GENERIC_RUN_NAMES.match(path.name) and path.parent.name:
        suffix = "" if path.name == "final" else f"-{path.name}"
        path = path.parent
    else:
        suffix = ""
    return path.parts[1:], suffix


def _clean_label(text: str) -> str:
    """A label usable in a CSV column name and a file name."""
    return re.sub(r"[^\w.+-]+", "-", text).strip("-") or "model"


def run_labels(runs: list[Path], reserved: tuple[str, ...] = ("base",)) -> list[str]:
    """Each run's folder name (see `_run_name`); runs whose names collide get their parent folders prepended
    until they differ (`a-lora`, `b-lora`), and the same run given twice gets `-2`. Names in `reserved` stay free."""
    names = [_run_name(run) for run in runs]
    depths = [1] * len(names)

    def label(index: int) -> str:
        folders, suffix = names[index]
        return _clean_label("-".join(folders[-depths[index] :]) + suffix)

    while True:
        labels = [label(i) for i in range(len(names))]
        holders: dict[str, set] = {}
        for index, text in enumerate(labels):
            holders.setdefault(text, set()).add(names[index])
        grow = [
            i
            for i, text in enumerate(labels)
            if (len(holders[text]) > 1 or text in reserved) and depths[i] < len(names[i][0])
        ]
        if not grow:
            break
        for index in grow:
            depths[index] += 1
    seen = dict.fromkeys(reserved, 1)
    for index, text in enumerate(labels):
        count = seen.get(text, 0)
        seen[text] = count + 1
        labels[index] = f"{text}-{count + 1}" if count else text
    return labels


def method_name(info) -> str:
    """The method a checkpoint was trained with; a LoRA run merged into full weights (lit_model.pth beside
    lit_model.pth.lora, or `litft merge_lora --out_dir`, which records merged_from) is `lora (merged)`."""
    from litft.models.methods import get_method

    recorded = info.hyperparameters.get("method")
    holds_full_weights = not get_method(info.method).delta_only
    if holds_full_weights and recorded is not None and get_method(recorded).delta_only:
        return f"{recorded} (merged)"
    if holds_full_weights and "merged_from" in info.hyperparameters:
        return "lora (merged)"
    return info.method


def plan_models(runs: list[Path], base: Path | None) -> list[ModelSpec]:
    """The base (given, or the one every run names) first, then the runs, labelled by `run_labels`."""
    from litft.models.checkpoint import inspect_checkpoint

    runs = [Path(run) for run in runs]
    if base is None:
        named = set()
        for run in runs:
            info = inspect_checkpoint(run)
            recorded = info.base_dir or info.hyperparameters.get("checkpoint_dir")
            if recorded:
                named.add(Path(recorded).resolve())
        if len(named) > 1:
            bases = ", ".join(map(str, sorted(named)))
            raise LitftError(f"the runs were trained from different bases ({bases}); pass --base to choose one.")
        base = next(iter(named), None)
    if base is None and not runs:
        raise LitftError("nothing to evaluate; give one or more run directories and/or --base CHECKPOINT_DIR.")
    base_spec = [ModelSpec("base", Path(base), "base")] if base is not None else []
    labels = run_labels(runs, reserved=("base",) if base_spec else ())
    return base_spec + [ModelSpec(label, run, "run") for label, run in zip(labels, runs, strict=True)]


def style_for(spec: ModelSpec, specs: list[ModelSpec], override: str | None):
    """The prompt style each model gets: --prompt_style, else its saved one; a base without one uses the
    style its fine-tuned runs were trained with, so both models see the same prompts."""
    from litft.models.checkpoint import inspect_checkpoint
    from litft.models.prompts import PROMPT_STYLE_FILE, load_prompt_style

    if override is not None:
        return override

    def saved(path: Path):
        info = inspect_checkpoint(path)
        for directory in (info.path, info.base_dir):
            if directory is not None and (Path(directory) / PROMPT_STYLE_FILE).is_file():
                return load_prompt_style(directory)
        return None

    style = saved(spec.path)
    if style is None and spec.role == "base":
        style = next((s for s in (saved(other.path) for other in specs if other.role == "run") if s is not None), None)
    return style  # None: LoadedModel falls back to the style litgpt knows for the model's name
