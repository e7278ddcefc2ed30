"""Tokenize instruction records into an indexed binary dataset: the same as `litft prepare finetune`."""

from litft.cli import run_function
from litft.prepare.finetune import prepare_finetune

if __name__ == "__main__":
    run_function(prepare_finetune)
