"""Readers of prepared data for the training loop: pretraining windows, instruction records, packing."""

from litft.readers.finetune import (
    IGNORE_INDEX,
    FinetuneDataset,
    LengthGroupedBatchSampler,
    collate_finetune,
)
from litft.readers.packing import PackedFinetuneDataset
from litft.readers.pretrain import PretrainDataset

__all__ = [
    "IGNORE_INDEX",
    "FinetuneDataset",
    "LengthGroupedBatchSampler",
    "PackedFinetuneDataset",
    "PretrainDataset",
    "collate_finetune",
]
