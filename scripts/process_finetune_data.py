"""Synthesize, filter and split instruction data from DIR/chunks.jsonl.

Usage: `python scripts/process_finetune_data.py DIR`.
"""

from litft.cli import run_function
from litft.data.curate.finetune_data import process_finetune_data

if __name__ == "__main__":
    run_function(process_finetune_data)
