"""Preference training's arithmetic: DPO, IPO and KTO losses on sequence log-probabilities, and the objective the
loop calls in place of the token loss when a method trains on preferences (`Method.objective`).

A sequence's log-probability is the sum over its answer tokens (the prompt is masked) of log p(token), from the
model's per-row loss (litft.models.loss.row_loss_sums: no `[B, T, vocab]` logits); IPO averages it over the answer
tokens, as TRL does. The reference log-probabilities come from the same model with its LoRA adapters switched off
(no second copy in memory), from a frozen copy of the base (full fine-tuning), or precomputed once before training
(`--precompute_reference true`) and carried by the batch. The arithmetic follows TRL's `DPOTrainer.dpo_loss` and
`KTOTrainer.kto_loss` (trl 0.28; tests/train/test_preference.py checks it against them), and the logged metrics
are TRL's: rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected
(KTO: kl and the rewards of desirable and undesirable answers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from litft.train.args import PreferenceArgs
from litft.train.batches import Batch


@dataclass
class PreferenceBatch(Batch):
    """Rows of preference data. DPO: the micro batch's chosen answers, then its rejected ones, in the same order.
    KTO: its records, then their KL rows (each prompt with another record's answer, for the KL estimate).

    units: pairs (DPO) or records (KTO): what the loss averages over.
    desirable: KTO's label per record (None for pairs).
    answer_tokens: `(2·units,)` answer tokens of each row (IPO's length average).
    reference: `(2·units,)` precomputed reference log-probabilities of the rows, or None (computed per batch).
    """

    units: int = 0
    desirable: torch.Tensor | None = None
    answer_tokens: torch.Tensor | None = None
    reference: torch.Tensor | None = None

    @property
    def loss_units(self) -> int:
        return self.units

    def rows(self, start: int, stop: int) -> PreferenceBatch:
        """Rows `start:stop` alone (KTO's records without their KL rows), for a forward pass of their own."""
        return PreferenceBatch(
            self.input_ids[start:stop], self.targets[start:stop], answer_tokens=self.answer_tokens[start:stop]
        )

    def to(self, device: torch.device) -> PreferenceBatch:
        def move(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.to(device, non_blocking=True)

        return PreferenceBatch(
            move(self.input_ids),
            move(self.targets),
            units=self.units,
            desirable=move(self.desirable),
            answer_tokens=move(self.answer_tokens),
            reference=move(self.reference),
        )


def dpo_losses(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
    label_smoothing: float = 0.0,
    ipo: bool = False,
) -> torch.Tensor:
    """Each pair's loss: DPO's -log σ(β·margin) (conservative DPO with label smoothing ε: the flipped pair's term
    weighted by ε), or IPO's (margin - 1/(2β))², where margin = (policy - reference) log-ratio of chosen minus
    rejected."""
    margin = (policy_chosen - policy_rejected) - (reference_chosen - reference_rejected)
    if ipo:
        return (margin - 1 / (2 * beta)) ** 2
    return -F.logsigmoid(beta * margin) * (1 - label_smoothing) - F.logsigmoid(-beta * margin) * label_smoothing


def kto_kl(policy_kl: torch.Tensor, reference_kl: torch.Tensor) -> torch.Tensor:
    """KTO's reference point: the batch's mean log-ratio on mismatched (prompt, answer) rows, at least 0, no
    gradient."""
    return (policy_kl - reference_kl).mean().detach().clamp(min=0)


def kto_losses(
    policy: torch.Tensor,
    reference: torch.Tensor,
    desirable: torch.Tensor,
    kl: torch.Tensor,
    beta: float,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> torch.Tensor:
    """Each record's loss: 1 - σ(β·(log-ratio - KL)) for a desirable answer, 1 - σ(β·(KL - log-ratio)) for an
    undesirable one, weighted."""
    ratios = policy - reference
    chosen = desirable_weight * (1 - torch.sigmoid(beta * (ratios - kl)))
    rejected = undesirable_weight * (1 - torch.sigmoid(beta * (kl - ratios)))
    return torch.where(desirable, chosen, rejected)


@contextlib.contextmanager
def adapters_off(model: torch.nn.Module) -> Iterator[None]:
    """The model as its base: litgpt's LoRA layers return their base linear's output alone when `r` is 0 (litgpt
    0.5's documented off switch), so this is exactly the base model, with no second copy in memory."""
    layers = [module for module in model.modules() if hasattr(module, "lora_A") and module.r > 0]
    ranks = [layer.r for layer in layers]
    for layer in layers:
        layer.r = 0
    try:
        yield
    finally:
        for layer, rank in zip(layers, ranks, strict=True):
            layer.r = rank


def sequence_logps(model: torch.nn.Module, batch: PreferenceBatch, average: bool) -> torch.Tensor:
    """`(rows,)` log-probability of each row's answer under `model`: summed over the answer tokens, or their mean
    (`average`, IPO)."""
    logps = -model(batch.input_ids, targets=batch.targets, per_row=True)
    return logps / batch.answer_tokens.clamp(min=1) if average else logps


def policy_logps(model: torch.nn.Module, batch: PreferenceBatch, average: bool) -> torch.Tensor:
    """The trained model's forward (a module-level function so the kill tests can count training forwards)."""
    return sequence_logps(model, batch, average)


class PreferenceObjective:
    """The loop's loss for preference methods: `loss_sum(model, batch)` is the sum of the batch's per-pair (DPO) or
    per-record (KTO) losses, so the loop's division by the step's units gives TRL's mean loss. `reference_model`:
    the frozen copy (full fine-tuning); None: the model with its adapters off, unless batches carry precomputed
    reference log-probabilities. The TRL metrics of the batches since the last `take_metrics` add up on the device
    and are read only then."""

    def __init__(self, args: PreferenceArgs, reference_model: torch.nn.Module | None = None) -> None:
        self.args, self.reference_model = args, reference_model
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._prefix = ""

    def reference_logps(self, model: torch.nn.Module, batch: PreferenceBatch) -> torch.Tensor:
        if batch.reference is not None:
            return batch.reference
        average = self.args.loss == "ipo"
        with torch.no_grad():
            if self.reference_model is not None:
                return sequence_logps(self.reference_model, batch, average)
            with adapters_off(model):
                return sequence_logps(model, batch, average)

    def loss_sum(self, model: torch.nn.Module, batch: PreferenceBatch) -> torch.Tensor:
        self._prefix = "" if model.training else "val_"  # validation batches' metrics are kept apart, as TRL's
        units, average = batch.units, self.args.loss == "ipo"
        if self.args.loss == "kto":  # the KL rows only set the reference point: no gradient, as in TRL
            with torch.no_grad():
                policy_kl = sequence_logps(model, batch.rows(units, 2 * units), average)
            policy = torch.cat([policy_logps(model, batch.rows(0, units), average), policy_kl])
        else:
            policy = policy_logps(model, batch, average)
        reference = self.reference_logps(model, batch).to(policy.dtype)
        if self.args.loss == "kto":
            kl = kto_kl(policy[units:], reference[units:])
            losses = kto_losses(
                policy[:units],
                reference[:units],
                batch.desirable,
                kl,
                self.args.beta,
                self.args.desirable_weight,
                self.args.undesirable_weight,
            )
            self._add_kto_metrics(policy[:units] - reference[:units], batch.desirable, kl)
        else:
            chosen, rejected = policy[:units], policy[units:]
            args = self.args
            ipo = args.loss == "ipo"
            losses = dpo_losses(
                chosen, rejected, reference[:units], reference[units:], args.beta, args.label_smoothing, ipo
            )
            self._add_dpo_metrics(chosen, rejected, reference[:units], reference[units:])
        return losses.sum()

    @torch.no_grad()
    def _add_dpo_metrics(
        self,
        chosen: torch.Tensor,
        rejected: torch.Tensor,
        reference_chosen: torch.Tensor,
        reference_rejected: torch.Tensor,
    ) -> None:
        chosen_rewards = self.args.beta * (chosen - reference_chosen).detach()
        rejected_rewards = self.args.beta * (rejected - reference_rejected).detach()
        self._add("rewards/chosen", chosen_rewards)
        self._add("rewards/rejected", rejected_rewards)
        self._add("rewards/accuracies", (chosen_rewards > rejected_rewards).float())
        self._add("rewards/margins", chosen_rewards - rejected_rewards)
        self._add("logps/chosen", chosen.detach())
        self._add("logps/rejected", rejected.detach())

    @torch.no_grad()
    def _add_kto_metrics(self, ratios: torch.Tensor, desirable: torch.Tensor, kl: torch.Tensor) -> None:
        rewards = self.args.beta * ratios.detach()
        self._add("rewards/chosen", rewards[desirable])
        self._add("rewards/rejected", rewards[~desirable])
        self._add("kl", kl.reshape(1))

    def _add(self, name: str, values: torch.Tensor) -> None:
        if values.numel():
            name = self._prefix + name
            self._sums[name] = self._sums.get(name, 0) + values.float().sum()
            self._counts[name] = self._counts.get(name, 0) + values.numel()

    def take_metrics(self, validation: bool = False) -> dict[str, float]:
        """The means of the training (or validation, named `val_...`) batches since the last call, in one device
        read, and start those afresh."""
        names = [name for name in self._sums if name.startswith("val_") == validation]
        values = torch.stack([self._sums.pop(name) for name in names]).tolist() if names else []
        return {name: value / self._counts.pop(name) for name, value in zip(names, values, strict=True)}
