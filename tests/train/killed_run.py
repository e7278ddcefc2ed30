"""Run a `litft` command and SIGKILL the process in the middle of a training step (a real, unclean death).

Usage: python killed_run.py KILL_AT_FORWARD litft-args...   KILL_AT_FORWARD counts training forward passes (micro batches).
LITFT_TEST_THREADS sets torch's thread count: the run it is compared with happened in the test process, and a
different thread count changes CPU float summation order, so the weights would differ by rounding.
"""

import os
import signal
import sys

import torch

from litft.train import loop

torch.set_num_threads(int(os.environ["LITFT_TEST_THREADS"]))

kill_at = int(sys.argv[1])
original = loop.token_loss_sum
calls = 0


def token_loss_sum(model, batch):
    global calls
    if model.training:
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return original(model, batch)


loop.token_loss_sum = token_loss_sum

from litft.cli import main  # noqa: E402

main(sys.argv[2:])
