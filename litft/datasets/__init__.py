"""Readers of prepared data for the training loop: pretraining windows, instruction records, packing."""

from litft.datasets.finetune import IGNORE_INDEX, FinetuneDataset, LengthGroupedBatchSampler, collate_finetune
from litft.datasets.packing import PackedFinetuneDataset, packed_attention_mask, packed_forward
from litft.datasets.pretrain import PretrainDataset

__all__ = [
    "IGNORE_INDEX",
    "FinetuneDataset",
    "LengthGroupedBatchSampler",
    "PackedFinetuneDataset",
    "PretrainDataset",
    "collate_finetune",
    "packed_attention_mask",
    "packed_forward",
]
