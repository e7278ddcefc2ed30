"""keep_freed_memory: freed step-sized blocks stay in the heap (no re-faulting), and a user's MALLOC_*_ tuning wins.

Each case runs in a fresh interpreter: mallopt changes the whole process, and the pytest process must keep glibc's
defaults for the other tests.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only"
)

# A step's activations: six 8 MB blocks allocated during the step and all freed at its end, through glibc's malloc
# as torch's CPU allocator does (called directly, so that no other allocation lands between them and the heap's
# top). With glibc's defaults the 48 MB freed at the top exceed its (adaptive) trim threshold and go back to the
# kernel, so every step faults its 12,288 pages in again; kept in the heap, the steps after the first fault none.
FAULTS_PER_STEP = """
import ctypes, json, resource, sys
from litft.train.host_memory import keep_freed_memory
map_from = int(sys.argv[2]) if len(sys.argv) > 2 else None
changed = keep_freed_memory(map_from) if sys.argv[1] in ("keep", "twice") else None
if sys.argv[1] == "twice":
    changed = keep_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
BLOCK = 8 << 20
def one_step():
    blocks = [libc.malloc(BLOCK) for _ in range(6)]
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)
    for block in reversed(blocks):
        libc.free(block)
for _ in range(5):
    one_step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    one_step()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20
print(json.dumps({"changed": changed, "faults": faults}))
"""


def _run(mode: str, *map_from: int, **environment: str) -> dict:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("MALLOC_") and key != "GLIBC_TUNABLES"
    } | environment
    done = subprocess.run(
        [sys.executable, "-c", FAULTS_PER_STEP, mode, *map(str, map_from)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_freed_blocks_are_reused_instead_of_faulted_in_again() -> None:
    default, kept = _run("default"), _run("keep")
    assert kept["changed"] is True
    assert default["faults"] >= 12_000  # the 48 MB, every step
    assert kept["faults"] == 0


def test_a_users_malloc_variables_are_left_alone() -> None:
    tuned = _run("keep", MALLOC_ARENA_MAX="2", MALLOC_TRIM_THRESHOLD_="65536")
    assert tuned["changed"] is False
    assert tuned["faults"] >= 12_000  # the user's settings, not ours, decide


def test_blocks_from_map_from_up_are_mapped_on_their_own() -> None:
    # what a quantized base asks for (its layers' full-precision weight copies): the 8 MB blocks are returned to the
    # kernel when freed, and faulted in again, once they reach `map_from`; below it they stay as before
    mapped, kept = _run("keep", 4 << 20), _run("keep", 16 << 20)
    assert mapped["changed"] is True and kept["changed"] is True
    assert mapped["faults"] >= 12_000
    assert kept["faults"] == 0


def test_the_first_call_in_a_process_decides() -> None:
    # a quantized run sets map_from before its model is loaded; fit's later plain call must not undo it
    again = _run("twice", 4 << 20)
    assert again["changed"] is False
    assert again["faults"] >= 12_000
