"""Tokenize text into train.bin / val.bin for pretraining: the same as `litft prepare pretrain`."""

from litft.cli import run_function
from litft.prepare.pretrain import prepare_pretrain

if __name__ == "__main__":
    run_function(prepare_pretrain)
