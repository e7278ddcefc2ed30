"""Training metrics: a CSV file always, TensorBoard on request, a tqdm bar and one-line summaries.

`out_dir/logs/metrics.csv` has one row per logged step and one per evaluation. A resumed run first
drops the rows after the step it resumes from, so the file reads as if the run had never stopped.
Only rank 0 writes.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from litft.common.errors import LitftError
from litft.common.io import atomic_write_text, progress

LoggerName = Literal["csv", "tensorboard"]
COLUMNS = (
    "step",
    "epoch",
    "tokens",
    "loss",
    "lr",
    "grad_norm",
    "tokens_per_s",
    "useful_tokens_per_s",
    "samples_per_s",
    "mfu",
    "val_loss",
    "val_ppl",
    "elapsed_s",
)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


class MetricsLog:
    """Rank 0's metrics sink: CSV rows (fsynced, line-complete) and optionally TensorBoard scalars."""

    def __init__(self, out_dir: Path, *, enabled: bool, logger: str = "csv", resume_step: int | None = None) -> None:
        self.enabled = enabled
        self.path = Path(out_dir) / "logs" / "metrics.csv"
        self.tensorboard = None
        if not enabled:
            return
        if logger not in ("csv", "tensorboard"):
            raise LitftError(f"unknown --logger {logger!r}; choose csv or tensorboard.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._truncate(resume_step)
        if not self.path.is_file():
            atomic_write_text(self.path, ",".join(COLUMNS) + "\n")
        if logger == "tensorboard":
            try:
                from lightning.fabric.loggers import TensorBoardLogger

                self.tensorboard = TensorBoardLogger(
                    root_dir=str(Path(out_dir) / "logs"), name="tensorboard", version=0
                )
            except ModuleNotFoundError:
                raise LitftError(
                    "--logger tensorboard needs the tensorboard package; `pip install tensorboard` or use --logger csv."
                ) from None

    def _truncate(self, resume_step: int | None) -> None:
        """Fresh run: start a new file. Resumed run: keep the rows up to and including the resumed step."""
        if not self.path.is_file():
            return
        if resume_step is None:
            self.path.unlink()
            return
        with open(self.path, newline="", encoding="utf-8") as fh:
            rows = [row for row in csv.DictReader(fh) if row.get("step") and int(row["step"]) <= resume_step]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: row.get(key, "") for key in COLUMNS} for row in rows)
        atomic_write_text(self.path, buffer.getvalue())

    def log(self, metrics: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        unknown = set(metrics) - set(COLUMNS)
        if unknown:
            raise KeyError(f"metrics without a CSV column: {sorted(unknown)}")
        line = ",".join(_fmt(metrics.get(column)) for column in COLUMNS) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        if self.tensorboard is not None:
            scalars = {k: float(v) for k, v in metrics.items() if k != "step" and v is not None}
            self.tensorboard.log_metrics(scalars, step=int(metrics["step"]))

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.finalize("success")


def read_metrics(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class Console:
    """The tqdm bar (loss, lr, tokens/s, ETA) when stderr is a terminal, else plain log lines; rank 0 only."""

    def __init__(self, *, enabled: bool, quiet: bool, total_steps: int | None, initial_step: int) -> None:
        self.enabled = enabled and not quiet
        self.bar = progress(
            total=total_steps, quiet=not self.enabled, initial=initial_step, desc="training", unit="step"
        )
        self.started = time.perf_counter()
        self.initial_step = initial_step
        self.total_steps = total_steps

    @property
    def interactive(self) -> bool:
        return not self.bar.disable

    def print(self, text: str) -> None:
        if not self.enabled:
            return
        if self.interactive:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def step(self, step: int, metrics: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        if self.interactive:
            self.bar.update(step - self.bar.n)
            postfix = {"loss": f"{metrics['loss']:.4f}", "lr": f"{metrics['lr']:.2e}"}
            if metrics.get("tokens_per_s"):
                postfix["tok/s"] = f"{metrics['tokens_per_s']:,.0f}"
            self.bar.set_postfix(postfix, refresh=False)
            return
        elapsed = time.perf_counter() - self.started
        eta = ""
        if self.total_steps and step > self.initial_step:
            remaining = elapsed / (step - self.initial_step) * (self.total_steps - step)
            eta = f" | eta {_duration(remaining)}"
        total = f"/{self.total_steps}" if self.total_steps else ""
        speed = f" | {metrics['tokens_per_s']:,.0f} tok/s" if metrics.get("tokens_per_s") else ""
        print(f"step {step}{total} | loss {metrics['loss']:.4f} | lr {metrics['lr']:.2e}{speed}{eta}", flush=True)

    def close(self) -> None:
        self.bar.close()


def eval_summary(step: int, val_loss: float, seconds: float) -> str:
    ppl = math.exp(val_loss) if val_loss < 50 else float("inf")
    return f"eval step {step} | val loss {val_loss:.4f} | val ppl {ppl:.2f} | {seconds:.1f}s"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
