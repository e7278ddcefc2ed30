"""Tokens/s (all and useful, i.e. non-padding targets), samples/s and MFU, over a sliding window of log points.

Lightning's `Throughput` (what `ThroughputMonitor` logs) measures the padded tokens, samples and, on GPUs
with known peak FLOPs, model FLOPs utilisation; useful tokens/s is measured beside it the same way.
Steps only add host-side counts; the clock is read (after waiting for the device) only when a row is
logged, as litgpt does, so metering never stalls the device between steps.
"""

from __future__ import annotations

import time
from collections import deque

import lightning as L
import torch
from lightning.fabric.utilities.throughput import Throughput, get_available_flops

WINDOW = 20  # log points the rates are measured over


class ThroughputMeter:
    def __init__(
        self,
        fabric: L.Fabric,
        flops_per_sample: float | None = None,
        dtype: torch.dtype = torch.bfloat16,
        window: int = WINDOW,
    ) -> None:
        self.fabric = fabric
        self.flops_per_sample = flops_per_sample
        available = get_available_flops(fabric.device, dtype) if fabric.device.type == "cuda" else None
        self.lightning = Throughput(available_flops=available, world_size=fabric.world_size, window_size=window)
        self.window: deque[tuple[float, int, int, int]] = deque(maxlen=window)
        self.started = 0.0
        self.batches = self.samples = self.padded = self.useful = 0

    def start(self) -> None:
        self.started = time.perf_counter()
        self.window.append((0.0, 0, 0, 0))

    def update(self, *, padded_tokens: int, useful_tokens: int, samples: int) -> None:
        """Count one step's batches (host integers only: no device synchronisation)."""
        self.batches += 1
        self.samples += samples
        self.padded += padded_tokens
        self.useful += useful_tokens

    def compute(self) -> dict[str, float | None]:
        """Rates over all ranks (each rank's rate times the world size, as Lightning reports them) up to now."""
        if self.fabric.device.type == "cuda":
            torch.cuda.synchronize(self.fabric.device)
        elapsed = time.perf_counter() - self.started
        _, _, _, samples_before = self.window[-1]
        # Lightning takes the FLOPs done since its previous update.
        flops = int(self.flops_per_sample * (self.samples - samples_before)) if self.flops_per_sample else None
        self.lightning.update(
            time=elapsed, batches=self.batches, samples=self.samples, lengths=self.padded, flops=flops
        )
        self.window.append((elapsed, self.padded, self.useful, self.samples))
        (t0, p0, u0, s0), (t1, p1, u1, s1) = self.window[0], self.window[-1]
        seconds = max(t1 - t0, 1e-9)
        world = self.fabric.world_size
        metrics: dict[str, float | None] = {
            "input_tokens_per_s": (p1 - p0) / seconds * world,  # padding included: what the model computed on
            "loss_tokens_per_s": (u1 - u0) / seconds * world,
            "samples_per_s": (s1 - s0) / seconds * world,
            "elapsed_s": t1,
        }
        mfu = self.lightning.compute().get("device/mfu")
        if mfu is not None:
            metrics["mfu"] = float(mfu)
        return metrics
