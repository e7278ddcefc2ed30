"""Training metrics: a CSV file always, TensorBoard / W&B / MLflow on request, a tqdm bar and one-line summaries.

`out_dir/logs/metrics.csv` has one row per logged step and one per evaluation. A resumed run first
drops the rows after the step it resumes from, so the file reads as if the run had never stopped.
The trackers go through Lightning's loggers and write under `out_dir/logs/` (tensorboard/, wandb/, mlflow.db);
the W&B and MLflow run ids are kept in `logs/trackers.json` so that a resumed run continues the same tracker run.
Every file and folder that appears under `logs/` while the run writes there is added to the run folder's marker,
so that `--overwrite` later removes these and leaves a user's own files in `logs/` alone. Only rank 0 writes.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import netrc
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from litft.common.errors import LitftError
from litft.common.io import append_line, atomic_write_json, atomic_write_text, progress
from litft.common.outputs import record_own_files
from litft.common.text import parse_json

LoggerName = Literal["csv", "tensorboard", "wandb", "mlflow"]
TRACKERS = ("tensorboard", "wandb", "mlflow")  # beside the CSV, which is always written
TRACKERS_FILE = "trackers.json"
# Preference runs' metrics (litft.train.preference), TRL's names; empty in other runs' rows.
PREFERENCE_COLUMNS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
    "kl",
)
COLUMNS = (
    "step",
    "epoch",
    "loss_tokens",
    "loss",
    "lr",
    "grad_norm",
    "input_tokens_per_s",
    "loss_tokens_per_s",
    "samples_per_s",
    "mfu",
    "val_loss",
    "val_ppl",
    "elapsed_s",
    *PREFERENCE_COLUMNS,
    *(f"val_{name}" for name in PREFERENCE_COLUMNS),
)

# The names of earlier litft versions' columns, so a resumed run keeps their rows' values.
LEGACY_COLUMNS = {
    "tokens": "loss_tokens",
    "tokens_per_s": "input_tokens_per_s",
    "useful_tokens_per_s": "loss_tokens_per_s",
}


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def tracker_names(logger: str | Sequence[str]) -> list[str]:
    """The trackers `--logger` asks for beside the CSV, checked before anything heavy is imported."""
    names = [logger] if isinstance(logger, str) else list(logger)
    unknown = [name for name in names if name != "csv" and name not in TRACKERS]
    if unknown:
        raise LitftError(f"unknown --logger {unknown[0]!r}; choose from csv, {', '.join(TRACKERS)}.")
    trackers = [name for name in TRACKERS if name in names]
    for name in trackers:
        if importlib.util.find_spec(name) is None:
            raise LitftError(
                f"--logger {name} needs the {name} package; `pip install 'litft[tracking]'` or drop {name}."
            )
    if "wandb" in trackers and not _wandb_can_log():
        raise LitftError(
            "--logger wandb needs a W&B login; run `wandb login` or set WANDB_API_KEY, "
            "or set WANDB_MODE=offline to log locally and `wandb sync` later."
        )
    return trackers


def _wandb_can_log() -> bool:
    """A key in the environment or in ~/.netrc (where `wandb login` puts it), or a mode that needs none."""
    if os.environ.get("WANDB_MODE", "").lower() in ("offline", "disabled", "dryrun") or os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


class MetricsLog:
    """Rank 0's metrics sink: CSV rows (flushed per row, fsynced by `sync`) and the trackers asked for."""

    def __init__(
        self,
        out_dir: Path,
        *,
        enabled: bool,
        logger: str | Sequence[str] = "csv",
        resume_step: int | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
    ) -> None:
        self.enabled = enabled
        self.out_dir = Path(out_dir)
        self.logs = self.out_dir / "logs"
        self.path = self.logs / "metrics.csv"
        self.trackers: list[Any] = []
        self.wandb_run = None
        self.handle = None
        if not enabled:
            return
        names = tracker_names(logger)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.found_before = entries_under(self.logs) - {self.path}
        self._truncate(resume_step)
        if not self.path.is_file():
            atomic_write_text(self.path, ",".join(COLUMNS) + "\n")
        self.handle = open(self.path, "a", encoding="utf-8")
        self.trackers = self._open_trackers(names, Path(out_dir), resumed=resume_step is not None)
        if resume_step is None:
            params = {**(hyperparameters or {}), "run_dir": str(Path(out_dir).resolve())}
            for tracker in self.trackers:  # a resumed run's tracker run has them already
                tracker.log_hyperparams(params)
        self.record_files()

    def record_files(self) -> None:
        """List what this run wrote under logs/ (the CSV, trackers.json, the trackers' files) in the marker."""
        from litft.train.run_folder import RUN_KIND  # imports torch; training has it loaded by now

        written = entries_under(self.logs) - self.found_before
        record_own_files(self.out_dir, sorted(str(p.relative_to(self.out_dir)) for p in written), RUN_KIND)

    def _open_trackers(self, names: list[str], out_dir: Path, *, resumed: bool) -> list[Any]:
        """Lightning's loggers; W&B and MLflow reuse the run ids of trackers.json when resuming."""
        ids_path = self.logs / TRACKERS_FILE
        ids = parse_json(ids_path.read_text(encoding="utf-8")) if resumed and ids_path.is_file() else {}
        trackers = []
        for name in names:
            if name == "tensorboard":
                from lightning.fabric.loggers import TensorBoardLogger

                trackers.append(TensorBoardLogger(root_dir=str(self.logs), name="tensorboard", version=0))
            elif name == "wandb":
                from lightning.pytorch.loggers import WandbLogger

                tracker = WandbLogger(
                    name=out_dir.name,
                    save_dir=str(self.logs),
                    project=os.environ.get("WANDB_PROJECT", "litft"),
                    id=ids.get("wandb"),
                    resume="allow",
                )
                self.wandb_run = tracker.experiment
                ids["wandb"] = self.wandb_run.id
                trackers.append(tracker)
            else:
                from lightning.pytorch.loggers import MLFlowLogger

                tracker = MLFlowLogger(
                    experiment_name=os.environ.get("MLFLOW_EXPERIMENT_NAME", "litft"),
                    run_name=out_dir.name,
                    # MLflow's local store (its file store is refused since MLflow 3): a SQLite file in logs/.
                    tracking_uri=os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.logs.resolve()}/mlflow.db",
                    artifact_location=(self.logs / "mlflow-artifacts").resolve().as_uri(),
                    run_id=ids.get("mlflow"),
                )
                ids["mlflow"] = tracker.run_id
                trackers.append(tracker)
        if ids:
            atomic_write_json(ids_path, ids)
        return trackers

    def _truncate(self, resume_step: int | None) -> None:
        """Fresh run: start a new file. Resumed run: keep the rows up to and including the resumed step."""
        if not self.path.is_file():
            return
        if resume_step is None:
            self.path.unlink()
            return
        with open(self.path, newline="", encoding="utf-8") as fh:
            rows = [
                {LEGACY_COLUMNS.get(key, key): value for key, value in row.items()}
                for row in csv.DictReader(fh)
                if row.get("step") and int(row["step"]) <= resume_step
            ]
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
        # Whole rows reach the file at once: a killed run or a full disk leaves no half line.
        append_line(self.handle, ",".join(_fmt(metrics.get(column)) for column in COLUMNS) + "\n", sync=False)
        scalars = {k: float(v) for k, v in metrics.items() if k != "step" and v is not None}
        for tracker in self.trackers:
            tracker.log_metrics(scalars, step=int(metrics["step"]))

    def sync(self) -> None:
        """Make the rows written so far durable (called with each checkpoint, not per row: fsync costs ms)."""
        if self.handle is not None:
            os.fsync(self.handle.fileno())
            self.record_files()

    def close(self, success: bool = True) -> None:
        if self.handle is None:
            return
        self.sync()
        self.handle.close()
        self.handle = None
        for tracker in self.trackers:
            tracker.finalize("success" if success else "failed")
        if self.wandb_run is not None:  # Lightning leaves the W&B run open; finishing it writes its summary
            self.wandb_run.finish(exit_code=0 if success else 1)
        self.record_files()


def entries_under(folder: Path) -> set[Path]:
    """Every file, link and folder below `folder` (a link to a folder is not entered)."""
    found = set()
    for root, folders, files in os.walk(folder):
        found.update(Path(root) / name for name in (*folders, *files))
    return found


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
            if metrics.get("input_tokens_per_s"):
                postfix["input tok/s"] = f"{metrics['input_tokens_per_s']:,.0f}"
            self.bar.set_postfix(postfix, refresh=False)
            return
        elapsed = time.perf_counter() - self.started
        eta = ""
        if self.total_steps and step > self.initial_step:
            remaining = elapsed / (step - self.initial_step) * (self.total_steps - step)
            eta = f" | eta {_duration(remaining)}"
        total = f"/{self.total_steps}" if self.total_steps else ""
        speed = f" | {metrics['input_tokens_per_s']:,.0f} input tok/s" if metrics.get("input_tokens_per_s") else ""
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
