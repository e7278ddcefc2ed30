"""Loss curves of training runs, drawn from their `logs/metrics.csv` (matplotlib, no display needed)."""

from __future__ import annotations

import csv
from pathlib import Path

from litft.common.errors import LitftError


def read_losses(run_dir: Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(step, training loss) and (step, validation loss) pairs of one run's metrics.csv.

    The training loss of a row is the token-weighted mean over that log interval's steps (what the loop logs),
    so the curve is smooth at any --train.log_interval rather than a sample of single micro batches.
    """
    path = Path(run_dir) / "logs" / "metrics.csv"
    if not path.is_file():
        raise LitftError(f"{path} does not exist; is {run_dir} a litft training run?")
    train, val = [], []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("loss"):
                train.append((int(row["step"]), float(row["loss"])))
            if row.get("val_loss"):
                val.append((int(row["step"]), float(row["val_loss"])))
    return train, val


def plot_losses(runs: dict[str, Path], output: Path) -> Path:
    """One panel per run: training loss as a line, validation loss as dots; written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only: works without a display and never opens a window
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3.4), squeeze=False)
    for axis, (name, run_dir) in zip(axes[0], runs.items(), strict=True):
        train, val = read_losses(run_dir)
        if train:
            axis.plot(*zip(*train, strict=True), label="train (mean per log interval)")
        if val:
            axis.plot(*zip(*val, strict=True), "o", label="validation")
        axis.set_title(name)
        axis.set_xlabel("optimizer step")
        axis.grid(alpha=0.3)
        axis.legend()
    axes[0][0].set_ylabel("cross-entropy loss")
    figure.tight_layout()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp.png")
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    tmp.replace(output)
    return output
