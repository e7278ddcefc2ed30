"""`litft evaluate --tasks`: lm-evaluation-harness tasks (HellaSwag, ARC, MMLU, or the user's own YAML tasks) run
on the base and every run through litft's loaded models, compared to the base item by item.

Did tuning cost general ability? Each model answers the same task items (lm-eval's first `--tasks_limit` items
of each task), so every run's difference to the base is paired: the interval is `statistics.paired_bootstrap`
over the items' own scores (lm-eval's per-sample results, `log_samples`). Metrics lm-eval aggregates otherwise
than as a mean of item scores (word perplexity, bits per byte) get the difference without an interval.

lm_eval is an optional extra (`pip install "litft[eval]"`), imported only when --tasks is given.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from litft.common.checks import require_dir
from litft.common.errors import LitftError
from litft.evaluation.gate import check_max_regression
from litft.evaluation.statistics import paired_bootstrap

TASKS_NOTE = (
    "TASK METRIC: lm-eval's metric per --tasks task (report.json has them all); on a run's row the paired difference "
    "to the base over the same items [95% interval], * the interval excludes 0"
)


@dataclass(frozen=True)
class HarnessTasks:
    """The lm-eval tasks every model runs, as the user named them, and the TaskManager that finds them."""

    names: list[str]
    path: Path | None
    limit: int | None
    manager: Any  # lm_eval.tasks.TaskManager

    def describe(self) -> dict:
        import lm_eval

        path = str(Path(self.path).resolve()) if self.path else None
        return {"names": self.names, "path": path, "limit": self.limit, "lm_eval_version": lm_eval.__version__}


def task_names(tasks: str | list[str] | None) -> list[str]:
    """`hellaswag,arc_easy` or `[hellaswag, arc_easy]` as a list of names, in order, each once."""
    given = [tasks] if isinstance(tasks, str) else list(tasks or [])
    names = [name.strip() for entry in given for name in entry.split(",") if name.strip()]
    return list(dict.fromkeys(names))


def harness_tasks(tasks, tasks_path: Path | None, tasks_limit: int | None, max_regression: float | None):
    """The checked --tasks, --tasks_path and --tasks_limit (None without --tasks), and --max_regression, said in one
    sentence when wrong; lm-eval's task catalogue is read only when a name is not among --tasks_path's own tasks
    (indexing it takes seconds)."""
    check_max_regression(max_regression)
    names = task_names(tasks)
    if not names:
        if tasks_path is not None or tasks_limit is not None:
            raise LitftError("--tasks_path and --tasks_limit go with --tasks; name the lm-eval tasks to run.")
        return None
    require_dir(tasks_path, "--tasks_path", "give the folder of your lm-eval task YAML files")
    if tasks_limit is not None and tasks_limit < 1:
        raise LitftError(f"--tasks_limit must be at least 1, got {tasks_limit}.")
    if importlib.util.find_spec("lm_eval") is None:
        raise LitftError('--tasks runs lm-evaluation-harness, which is not installed; pip install "litft[eval]".')
    from lm_eval.tasks import TaskManager

    include = str(tasks_path) if tasks_path is not None else None
    manager = TaskManager(include_path=include, include_defaults=False) if include else None
    if manager is None or set(manager.match_tasks(names)) != set(names):
        manager = TaskManager(include_path=include)
    unknown = [name for name in names if name not in set(manager.match_tasks(names))]
    if unknown:
        raise LitftError(
            f"lm-eval has no task {unknown[0]!r}; check the name (`lm-eval ls tasks` lists them) or --tasks_path."
        )
    return HarnessTasks(names, tasks_path, tasks_limit, manager)


def harness_scores(loaded, harness: HarnessTasks | None, batch_size: int) -> dict:
    """A closed-book row's `tasks` and `task_items` fields (empty without --tasks)."""
    if harness is None:
        return {}
    tasks, task_items = run_tasks(loaded, harness, batch_size)
    return {"tasks": tasks, "task_items": task_items}


def run_tasks(loaded, harness: HarnessTasks, batch_size: int) -> tuple[dict, dict]:
    """One model's lm-eval results: {task: {metric: value, ..., "n": items}} and each task's per-item scores
    {task: {metric: {item: score}}} (the items of a group are its tasks' items)."""
    import lm_eval

    from litft.evaluation.harness_model import LitftLM

    output = lm_eval.simple_evaluate(
        model=LitftLM(loaded, batch_size),
        tasks=harness.names,
        limit=harness.limit,
        task_manager=harness.manager,
        log_samples=True,
        bootstrap_iters=0,  # litft's paired bootstrap against the base replaces lm-eval's standard errors
    )
    metrics, items = {}, {}
    for name in harness.names:
        values = output["results"][name]
        metrics[name] = {
            key: value
            for key, value in values.items()
            if "," in key and "_stderr," not in key and isinstance(value, (int, float))  # `metric,filter` keys
        }
        metrics[name]["higher_is_better"] = output["higher_is_better"].get(name, {})
        items[name] = _item_scores(output, name)
        metrics[name]["n"] = len(next(iter(items[name].values()), {}))
    return metrics, items


def _item_scores(output: dict, name: str) -> dict[str, dict[str, float]]:
    """{`metric,filter`: {`task/doc_id`: score}} of a task (or of every task in a group), scalar scores only."""
    subtasks = [name]
    for group, members in output.get("group_subtasks", {}).items():
        if group in subtasks:
            subtasks += [member for member in members if member not in subtasks]
    scores: dict[str, dict[str, float]] = {}
    for task in subtasks:
        for sample in output.get("samples", {}).get(task, []):
            for metric in sample["metrics"]:
                value = sample[metric]
                if isinstance(value, (bool, int, float)):
                    scores.setdefault(f"{metric},{sample['filter']}", {})[f"{task}/{sample['doc_id']}"] = float(value)
    return scores


def tasks_vs_base(base, result) -> dict:
    """Per task and metric: the run's difference to the base and, for mean-of-item metrics, the paired bootstrap
    interval over the items both answered; `higher_is_better` as lm-eval says."""
    compared = {}
    for name, metrics in (result.tasks or {}).items():
        base_metrics = base.tasks[name]
        compared[name] = {}
        for key, value in metrics.items():
            if key in ("n", "higher_is_better") or key not in base_metrics:
                continue
            mine, theirs = result.task_items[name].get(key, {}), base.task_items[name].get(key, {})
            shared = [item for item in mine if item in theirs]
            interval = paired_bootstrap([mine[i] - theirs[i] for i in shared]) if shared else None
            compared[name][key] = {
                "difference": value - base_metrics[key],
                "interval": asdict(interval) if interval else None,
                "higher_is_better": metrics["higher_is_better"].get(key.split(",")[0], True),
            }
    return compared


def primary_metric(metrics: dict) -> str:
    """The metric a task's column shows: lm-eval's first (acc before acc_norm, exact_match, word_perplexity)."""
    return next(key for key in metrics if key not in ("n", "higher_is_better"))


def task_headers(results) -> list[str]:
    """One column per --tasks task, named by the task and the metric it shows."""
    first = next((r.tasks for r in results if r.tasks), None)
    if not first:
        return []
    return [f"{name} {primary_metric(metrics).removesuffix(',none')}" for name, metrics in first.items()]


def task_cells(result, columns: int) -> list[str]:
    """A row's task columns: the metric, and on a run's row its difference to the base [95% interval]."""
    if not result.tasks:
        return [""] * columns
    cells = []
    for name, metrics in result.tasks.items():
        key = primary_metric(metrics)
        compared = ((result.vs_base or {}).get("tasks") or {}).get(name, {}).get(key)
        cell = f"{metrics[key]:.4f}"
        if compared and compared["interval"]:
            interval = compared["interval"]
            mark = "*" if interval["excludes_zero"] else ""
            cell += f" {interval['mean']:+.4f} [{interval['low']:+.2f}, {interval['high']:+.2f}]{mark}"
        elif compared:
            cell += f" {compared['difference']:+.4f}"
        cells.append(cell)
    return cells
