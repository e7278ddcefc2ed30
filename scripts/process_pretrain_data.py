"""Clean, de-boilerplate, dedup and chunk DIR/pages.jsonl.

Usage: `python scripts/process_pretrain_data.py DIR [--chunk_words 250]`.
"""

from litft.cli import run_function
from litft.data.clean.process import process

if __name__ == "__main__":
    run_function(process, prog="process_pretrain_data.py")
