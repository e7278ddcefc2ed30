"""glibc's malloc during CPU training: the blocks a step frees stay for the next step; a quantized base's weight
copies do not.

Every step frees and reallocates tensors of the same sizes (activations, their gradients, logits). By default glibc
returns freed blocks above its (adaptive) mmap threshold and heap tops above its trim threshold to the kernel, and
the next step faults them in again, zero-filled: on bench/train.py's pretraining model about 2,400-3,600 page
faults (10-14 MB) every step, 3-6% of a CPU step. torch has no setting for this (PyTorch's CPU tuning guide
swaps the allocator for jemalloc or tcmalloc through LD_PRELOAD, which a pip install cannot do), so glibc's own
`mallopt` is called, once per training process. Freed blocks are reused, not added to: on that model the run's peak
RSS moves by about 1% (729-735 MiB against 725-727 MiB with glibc's defaults); what changes is that the process
keeps its peak until it exits.

A quantized base (QLoRA) adds one kind of block that should not stay: bitsandbytes computes every 4-bit and 8-bit
layer on the CPU with a full-precision copy of its weight, made and dropped in every pass (and loading makes one
per layer), and copies kept in the heap between smaller blocks fragment it, step after step. A quantized run
therefore maps blocks from its smallest copy's size up on their own (`map_from`), set before the model is loaded:
set after it, glibc still carves copies out of the free blocks the loading left. On bench/qlora.py's NF4 model the
step's peak RSS is 191-202 MiB against 279-316 MiB, for about a third fewer tokens/s (300-322 against 430-453) from
faulting the copies in: a quantized run trades speed for memory on purpose, and MALLOC_MMAP_THRESHOLD_ overrides
it. A 7B model's copies (above 32 MiB) are past the ceiling of any setting.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
# glibc's ceiling for the mmap threshold on 64-bit (HEAP_MAX_SIZE / 2): larger blocks are always mapped anew.
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 1 << 30
GLIBC_VARIABLES = (
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_MAX_",
    "GLIBC_TUNABLES",
)
_decided = False  # mallopt's settings belong to the process, so does the record that they were made


def keep_freed_memory(map_from: int | None = None) -> bool:
    """Fix glibc's thresholds so freed blocks below `map_from` bytes (at most 32 MiB) stay in the heap; False where
    nothing was changed.

    The first call in a process decides (a quantized run calls this before its model is loaded, `fit` again after);
    nothing is changed when the user tuned these settings (any of GLIBC_VARIABLES: theirs win) or the C library is
    not glibc (musl, macOS). Both thresholds are set together: fixing one turns off glibc's
    adaptive mmap threshold, and a trim threshold alone would leave every block above 128 KiB mapped and unmapped
    each step.
    """
    global _decided
    if _decided or any(name in os.environ for name in GLIBC_VARIABLES):
        return False
    _decided = True
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mmap_threshold = min(map_from or MMAP_THRESHOLD, MMAP_THRESHOLD)
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
