"""Run a `litft` command and SIGKILL the process in the middle of a training step (a real, unclean death).

Usage: python killed_run.py KILL_AT_FORWARD litft-args...
KILL_AT_FORWARD counts training forward passes (micro batches; preference runs' policy forwards too);
`save:N` instead kills while the N-th checkpoint writes its rank file (a checkpoint half on disk).
LITFT_TEST_THREADS sets torch's thread count: the run it is compared with happened in the test process, and a
different thread count changes CPU float summation order, so the weights would differ by rounding.
"""

import os
import signal
import sys

import torch

from litft.cli import main
from litft.train import preference, state, steps

torch.set_num_threads(int(os.environ["LITFT_TEST_THREADS"]))

kill_at_save = int(sys.argv[1].removeprefix("save:")) if sys.argv[1].startswith("save:") else None
kill_at = None if kill_at_save else int(sys.argv[1])
original = steps.token_loss_sum
original_policy_logps = preference.policy_logps
original_save = state.torch.save
calls = saves = 0


def save(obj, path, *args, **kwargs):
    global saves
    if isinstance(obj, dict) and "rng" in obj:
        saves += 1
        if saves == kill_at_save:
            with open(path, "wb") as fh:
                fh.write(b"half a rank file")
            os.kill(os.getpid(), signal.SIGKILL)
    return original_save(obj, path, *args, **kwargs)


def count_forward(model):
    global calls
    if model.training:
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def token_loss_sum(model, batch):
    count_forward(model)
    return original(model, batch)


def policy_logps(model, batch, average):
    count_forward(model)
    return original_policy_logps(model, batch, average)


steps.token_loss_sum = token_loss_sum
preference.policy_logps = policy_logps
state.torch.save = save

main(sys.argv[2:])
