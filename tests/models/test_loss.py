"""The training loss without [B, T, vocab] logits (litft.models.loss): the same sum and gradients as litgpt's logits
and a plain cross-entropy, with no vocabulary-wide tensor kept for backward and logits only where a target is."""

from __future__ import annotations

import weakref

import pytest
import torch
import torch.nn.functional as F

from litft.common.settings import LoRASettings
from litft.models.build import build_model, config_from_fields
from litft.models.loss import IGNORE_INDEX, accept_targets, token_loss_sum
from litft.readers import collate_finetune
from litft.train.batches import Batch, shift
from litft.train.steps import token_loss_sum as step_loss_sum

TINY = dict(
    name="tiny-loss",
    block_size=64,
    n_layer=2,
    n_embd=32,
    n_head=4,
    n_query_groups=2,
    vocab_size=250,
    padding_multiple=64,
    norm_class_name="RMSNorm",
    mlp_class_name="LLaMAMLP",
    intermediate_size=48,
    bias=False,
    parallel_residual=False,
    rotary_percentage=1.0,
)
# LoRA on every projection and the head (the head is then a LoRA layer), no dropout: the reference draws no masks.
LORA = LoRASettings(r=4, alpha=8, dropout=0.0, key=True, projection=True, mlp=True, head=True)
LENGTHS = (9, 23, 14)  # three records; each one's first 3 tokens are its prompt (no target)


def _model(method: str, **fields) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(method, config_from_fields(TINY | fields, "test"), LORA if method == "lora" else None)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # zero at init, which would make every LoRA A gradient zero
            torch.nn.init.normal_(parameter, std=0.1)
    return model


def _records() -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    records = []
    for length in LENGTHS:
        ids = torch.randint(0, TINY["vocab_size"], (length,), generator=generator)
        labels = ids.clone()
        labels[:3] = IGNORE_INDEX
        records.append({"input_ids": ids, "labels": labels})
    return records


def _packed_row(records: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """All records in one row, as litft.readers.PackedFinetuneDataset lays them out."""
    labels = [record["labels"].clone() for record in records]
    for record_labels in labels:
        record_labels[0] = IGNORE_INDEX
    return {
        "input_ids": torch.cat([record["input_ids"] for record in records]),
        "labels": torch.cat(labels),
        "position_ids": torch.cat([torch.arange(len(record["input_ids"])) for record in records]),
        "segment_ids": torch.cat([torch.full((len(r["input_ids"]),), i + 1) for i, r in enumerate(records)]),
    }


def _reference(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Unchunked: litgpt's full [B, T, vocab] logits and one cross-entropy over every position."""
    logits = model(batch.input_ids)
    return F.cross_entropy(
        logits.flatten(0, 1).float(), batch.targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
    )


def _gradients(model: torch.nn.Module, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def _assert_equal(loss, grads, expected_loss, expected_grads) -> None:
    torch.testing.assert_close(loss, expected_loss, rtol=1e-6, atol=0)
    assert grads.keys() == expected_grads.keys() and grads
    for name in grads:  # within 1e-6 of each tensor's largest entry: fp32 sums in another order
        scale = float(expected_grads[name].abs().max())
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=0, atol=1e-6 * scale, msg=name)


@pytest.mark.parametrize("method", ["full", "lora"])
@pytest.mark.parametrize("chunk_positions", [3, None])  # 3: many chunks, the last one short; None: the default
def test_chunked_loss_and_gradients_equal_the_unchunked_ones_padded(method, chunk_positions):
    model = _model(method)
    records = _records()
    padded = shift(collate_finetune(records))  # right-padded: the shorter rows end in padding
    expected_loss = _reference(model, padded)
    expected_grads = _gradients(model, expected_loss)
    loss = token_loss_sum(model, padded.input_ids, padded.targets, chunk_positions=chunk_positions)
    _assert_equal(loss.detach(), _gradients(model, loss), expected_loss.detach(), expected_grads)


@pytest.mark.parametrize("method", ["full", "lora"])
def test_packed_chunked_loss_and_gradients_equal_the_records_unchunked_alone(method):
    model = _model(method)
    records = _records()
    packed = shift(collate_finetune([_packed_row(records[:2]), _packed_row(records[2:])]))
    alone = [shift(collate_finetune([record])) for record in records]
    expected_loss = sum(_reference(model, batch) for batch in alone)
    expected_grads = _gradients(model, expected_loss)
    loss = token_loss_sum(model, packed.input_ids, packed.targets, packed.position_ids, packed.segment_ids, 4)
    _assert_equal(loss.detach(), _gradients(model, loss), expected_loss.detach(), expected_grads)


def test_softcapped_logits_and_the_no_grad_path_give_the_reference_loss():
    model = _model("full", final_logit_softcapping=2.0)
    padded = shift(collate_finetune(_records()))
    with torch.no_grad():
        expected = _reference(model, padded)
        torch.testing.assert_close(token_loss_sum(model, padded.input_ids, padded.targets, chunk_positions=5), expected)


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("head", [False, True])  # a frozen lm head (gradient taken in forward) or a LoRA one
def test_a_step_keeps_no_vocabulary_wide_tensor_and_projects_only_target_positions(packed, head, monkeypatch):
    """What autograd keeps for backward in a training step's loss: no [positions, vocab] logits or log-probabilities,
    and the lm head sees only the positions that have a target, in chunks; a trained head's chunks are recomputed in
    backward, a frozen head's are not."""
    monkeypatch.setattr("litft.models.loss.LOGITS_PER_CHUNK", 16 * 256)  # 16 positions per chunk
    torch.manual_seed(0)
    settings = LoRASettings(r=4, alpha=8, dropout=0.0, head=head)
    model = build_model("lora", config_from_fields(TINY | dict(block_size=256), "test"), settings)
    records = [{"input_ids": torch.arange(200) % 250, "labels": torch.full((200,), IGNORE_INDEX)}]
    records[0]["labels"][150:] = records[0]["input_ids"][150:]  # a long prompt, a 50-token answer
    batch = shift(collate_finetune([_packed_row(records)] if packed else records))
    rows = []
    model.lm_head.register_forward_hook(lambda module, args, output: rows.append(args[0].shape[0]))
    saved = []  # weak references: a tensor saved for a gradient taken within forward is freed with it

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(weakref.ref(tensor))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        loss = step_loss_sum(model, batch)
    weight = model.lm_head.linear.weight.untyped_storage().data_ptr()
    kept = [ref() for ref in saved if ref() is not None and ref().untyped_storage().data_ptr() != weight]
    assert [tuple(t.shape) for t in kept if model.config.padded_vocab_size in t.shape] == []
    assert rows == [16, 16, 16, 2] and batch.target_tokens == 50
    loss.backward()
    assert rows == [16, 16, 16, 2] + ([2, 16, 16, 16] if head else [])  # backward runs the chunks last first
    assert model.transformer.h[0].attn.qkv.lora_B.grad.abs().max() > 0


def test_packed_rows_keep_one_attention_mask_for_every_layer():
    """SDPA converts a boolean mask to an additive one in every layer and keeps each copy for backward: the packed
    pass gives it one additive mask in the queries' dtype, so all layers keep the same (T x T) storage."""
    model = _model("full", n_layer=3)
    batch = shift(collate_finetune([_packed_row(_records())]))
    length = batch.input_ids.size(1)
    storages = set()

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.shape[-2:] == (length, length):
            storages.add(tensor.untyped_storage().data_ptr())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        step_loss_sum(model, batch)
    assert len(storages) == 1


def test_forward_without_targets_is_litgpt_forward_and_accepting_twice_changes_nothing():
    model = _model("full")
    ids = torch.randint(0, TINY["vocab_size"], (2, 10))
    expected = model(ids)
    accept_targets(model)
    forward = model.forward
    accept_targets(model)
    assert model.forward is forward
    assert torch.equal(model(ids), expected)
    assert [chunk.shape for chunk in model(ids, lm_head_chunk_size=4)][0] == (2, 4, model.config.padded_vocab_size)


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_batch_without_targets_gives_a_zero_loss_that_backpropagates(method):
    """A micro batch whose records were all cut before their answer still takes part in the step (DDP expects every
    rank's backward)."""
    model = _model(method)
    padded = shift(collate_finetune(_records()))
    loss = token_loss_sum(model, padded.input_ids, torch.full_like(padded.targets, IGNORE_INDEX))
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert all(float(p.grad.abs().max()) == 0.0 for p in model.parameters() if p.grad is not None)
