"""Every bench/*.py runs in its --quick mode (tiny sizes, the same code) and prints only JSON result lines.

A benchmark nothing runs drifts from the code it measures (bench/filter.py once called the filter's rules with a
record where they had come to take a view of it). Each script here is found by glob, so a new one is covered the
day it is added. The scripts run at once, each in its own process with its output in files: most of their time is
process start-up (torch, lightning), which on two cores takes half the wall time side by side. Nothing here asserts
a timing; the scripts' own checks (identical tokens, kept sets, rankings, token counts) still hold.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# bench/_*.py are modules the scripts share (bench/_smollm2.py), not benchmarks
BENCHES = sorted(path.name for path in (REPO / "bench").glob("*.py") if not path.name.startswith("_"))
# Data a script reads from beside the checkout (as tests/data/curate/test_filter.py does): without it, it is skipped.
DATA = {"extract.py": REPO.parent / "shared" / "data" / "extraction-benchmark"}
TIMEOUT_S = 600

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def started(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """The selected scripts, all started: name -> (process, stdout file, stderr file)."""
    selected = [
        item.callspec.params["bench"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_bench_quick" and hasattr(item, "callspec")
    ]
    runs = {}
    for bench in selected:
        if bench in DATA and not DATA[bench].exists():
            continue
        folder = tmp_path_factory.mktemp(bench.removesuffix(".py"))
        stdout, stderr = folder / "stdout", folder / "stderr"
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            process = subprocess.Popen(
                [sys.executable, str(REPO / "bench" / bench), "--quick"],
                cwd=folder,
                stdout=out,
                stderr=err,
                env={**os.environ, "TMPDIR": str(folder)},
            )
        runs[bench] = (process, stdout, stderr)
    yield runs
    for process, _, _ in runs.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("bench", BENCHES)
def test_bench_quick(bench: str, started: dict[str, tuple]) -> None:
    if bench not in started:
        pytest.skip(f"{DATA[bench]} is not available")
    process, stdout, stderr = started[bench]
    returncode = process.wait(timeout=TIMEOUT_S)
    errors = stderr.read_text(errors="replace")[-3000:]
    assert returncode == 0, f"bench/{bench} --quick exited {returncode}:\n{errors}"
    lines = stdout.read_text().splitlines()
    assert lines, f"bench/{bench} --quick printed nothing:\n{errors}"
    for line in lines:
        result = json.loads(line)  # every line of stdout is one result: a stray print breaks the format
        assert isinstance(result["name"], str) and result["name"], line
        assert isinstance(result["ratio"], (int, float)) and math.isfinite(result["ratio"]), line
        assert result["ratio"] > 0, line
