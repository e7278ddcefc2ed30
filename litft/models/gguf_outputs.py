"""What `litft convert lit_to_gguf` writes and may replace, checked before torch loads.

The weight types litft writes itself with the `gguf` package, those it leaves to llama.cpp's `llama-quantize`
(found on PATH, never replaced by another type), and the ownership of its two outputs: a GGUF file litft wrote
carries the metadata key `litft.export` (llama.cpp ignores keys it does not know and `llama-quantize` copies them),
a Modelfile starts with litft's comment line. An existing file without that mark is the user's, refused unless
--overwrite. A single file has no folder marker (`.litft.json`) of its own, and marking the folder around it would
claim a user's folder, so the mark travels inside the file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from litft.common.errors import LitftError
from litft.common.io import check_output_file

OWN_KEY = "litft.export"
MODELFILE_MARK = "# Written by litft convert lit_to_gguf"
# The types litft writes itself (gguf's quantizers), with llama.cpp's file type of each.
WRITTEN_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0")
ADAPTER_TYPES = ("f32", "f16", "bf16")  # llama.cpp applies a LoRA adapter in these (convert_lora_to_gguf.py's)
# llama-quantize's types (its own names, in upper case) that litft hands to it: the k-quants and the rest of the
# legacy ones. The i-quants that need an importance matrix are left out: they need data litft does not have.
LLAMA_QUANTIZE_TYPES = (
    "q4_1",
    "q5_0",
    "q5_1",
    "q2_k",
    "q3_k_s",
    "q3_k_m",
    "q3_k_l",
    "q4_k_s",
    "q4_k_m",
    "q5_k_s",
    "q5_k_m",
    "q6_k",
    "iq4_nl",
    "iq4_xs",
)
LLAMA_QUANTIZE = "llama-quantize"


def check_gguf_dtype(dtype: str, adapter_only: bool) -> str:
    """`dtype` in lower case when litft can write it: itself, or through llama-quantize found on PATH."""
    name = str(dtype).lower()
    if adapter_only and name not in ADAPTER_TYPES:
        raise LitftError(
            f"--dtype {dtype} is not one a LoRA adapter GGUF is written in; choose {', '.join(ADAPTER_TYPES)}."
        )
    if name in WRITTEN_TYPES:
        return name
    if name not in LLAMA_QUANTIZE_TYPES:
        raise LitftError(
            f"unknown --dtype {dtype!r}; choose {', '.join(WRITTEN_TYPES)} (written by litft) or one of "
            f"llama-quantize's {', '.join(LLAMA_QUANTIZE_TYPES)}."
        )
    if shutil.which(LLAMA_QUANTIZE) is None:
        raise LitftError(
            f"--dtype {dtype} is made by llama.cpp's {LLAMA_QUANTIZE}, which is not on PATH; install llama.cpp "
            f"(its tools include {LLAMA_QUANTIZE}) or choose one litft writes itself: {', '.join(WRITTEN_TYPES)}."
        )
    return name


def modelfile_path(output: str | os.PathLike) -> Path:
    """The Ollama Modelfile written beside `output` (one per GGUF, so two exports in one folder keep theirs)."""
    output = Path(output)
    return output.with_name(f"{output.stem if output.suffix == '.gguf' else output.name}.Modelfile")


def is_own_gguf(path: Path) -> bool:
    """Whether `path` is a GGUF file litft wrote (its metadata holds OWN_KEY)."""
    from gguf import GGUFReader

    try:
        return OWN_KEY in GGUFReader(path).fields
    except (ValueError, OSError, IndexError, KeyError):  # not a GGUF file, or a damaged one: not litft's
        return False


def is_own_modelfile(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().startswith(MODELFILE_MARK)
    except (OSError, UnicodeDecodeError):
        return False


def check_gguf_outputs(output: str | os.PathLike, overwrite: bool, adapter_only: bool) -> list[Path]:
    """The files the export writes (the GGUF, and its Modelfile unless `adapter_only`), refused before any work
    when one exists that litft did not write and `overwrite` is not set."""
    paths = [check_output_file(output, "--output")]
    if not adapter_only:
        paths.append(check_output_file(modelfile_path(output), "--output"))
    for path, own in zip(paths, (is_own_gguf, is_own_modelfile), strict=False):
        if path.exists() and not overwrite and not own(path):
            raise LitftError(
                f"{path} already exists and litft did not write it; choose another --output, or pass "
                "--overwrite true to replace it."
            )
    return paths
