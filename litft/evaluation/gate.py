"""The release gate of `litft evaluate --max_regression X`: a CI step that fails when a tuned model got worse.

A run's row fails when it falls below the base by more than X on the domain score (ROUGE-L) or on an lm-eval
task metric of --tasks, and the paired bootstrap interval of that difference lies wholly below 0 (a loss the
test items show, not noise). For a metric where lower is better (e.g. perplexity) "below" means above. Metrics
without a per-item interval (word perplexity, bits per byte) are reported, not gated. The gate runs after
report.json and answers.csv are written; a failure exits with status 3, which user errors (2) never use.
"""

from __future__ import annotations

import sys

from litft.common.errors import LitftError

GATE_EXIT_STATUS = 3


class ReleaseGateFailed(SystemExit):
    """Exit status 3: a run fell below the base (a SystemExit, so the CLI exits with it and prints no traceback)."""

    def __init__(self, failures: list[dict]):
        super().__init__(GATE_EXIT_STATUS)
        self.failures = failures


def check_max_regression(max_regression: float | None) -> None:
    if max_regression is not None and not 0 <= max_regression < 1:
        raise LitftError(f"--max_regression is a score difference between 0 and 1, e.g. 0.02; got {max_regression}.")


def _gated_differences(result) -> list[tuple[str, dict, bool]]:
    """(metric, interval, higher is better) of each difference to the base the gate checks on a row."""
    gated = [("rougeL", result.vs_base["rougeL"], True)]
    for task, metrics in (result.vs_base.get("tasks") or {}).items():
        for key, compared in metrics.items():
            if compared["interval"] is not None:
                name = f"{task} {key.removesuffix(',none')}"
                gated.append((name, compared["interval"], compared["higher_is_better"]))
    return gated


def release_gate(results, max_regression: float | None) -> dict | None:
    """report.json's `release_gate`: the threshold and each failing (row, metric), or None without --max_regression."""
    if max_regression is None:
        return None
    failures = []
    for result in results:
        if result.role != "run" or not result.vs_base:
            continue
        for metric, interval, higher_is_better in _gated_differences(result):
            loss = -interval["mean"] if higher_is_better else interval["mean"]
            clear_of_zero = interval["high"] < 0 if higher_is_better else interval["low"] > 0
            if loss > max_regression and clear_of_zero:
                failures.append(
                    {
                        "row": result.label,
                        "metric": metric,
                        "difference": interval["mean"],
                        "low": interval["low"],
                        "high": interval["high"],
                    }
                )
    return {"max_regression": max_regression, "passed": not failures, "failures": failures}


def enforce_release_gate(gate: dict | None) -> None:
    """One line per failing row on stderr and exit status 3; a line saying it passed otherwise."""
    if gate is None:
        return
    threshold = gate["max_regression"]
    if gate["passed"]:
        print(f"release gate: passed (no run fell more than {threshold} below the base beyond noise)", file=sys.stderr)
        return
    for failure in gate["failures"]:
        print(
            f"release gate: {failure['row']} {failure['metric']} is {failure['difference']:+.4f} against the base "
            f"(more than {threshold} worse), 95% interval [{failure['low']:+.4f}, {failure['high']:+.4f}]",
            file=sys.stderr,
        )
    raise ReleaseGateFailed(gate["failures"])
