"""glibc's malloc during CPU training: keep the blocks a step frees for the next step.

Every step frees and reallocates tensors of the same sizes (activations, their gradients, logits). By default glibc
returns freed blocks above its (adaptive) mmap threshold and heap tops above its trim threshold to the kernel, and
the next step faults them in again, zero-filled: on bench/train.py's pretraining model about 2,400-3,600 page
faults (10-14 MB) every step, 3-6% of a CPU step. torch has no setting for this (PyTorch's CPU tuning guide
swaps the allocator for jemalloc or tcmalloc through LD_PRELOAD, which a pip install cannot do), so glibc's own
`mallopt` is called, once per training process. Freed blocks are reused, not added to: on that model the run's peak
RSS moves by about 1% (729-735 MiB against 725-727 MiB with glibc's defaults); what changes is that the process
keeps its peak until it exits.
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


def keep_freed_memory() -> bool:
    """Fix glibc's thresholds so freed blocks up to 32 MB stay in the heap; False where nothing was changed.

    Nothing is changed when the user tuned these settings (any of GLIBC_VARIABLES: theirs win) or the C library is
    not glibc (musl, macOS). Both thresholds are set together: fixing one turns off glibc's
    adaptive mmap threshold, and a trim threshold alone would leave every block above 128 KiB mapped and unmapped
    each step.
    """
    if any(name in os.environ for name in GLIBC_VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
