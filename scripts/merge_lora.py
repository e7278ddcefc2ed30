"""`python scripts/merge_lora.py --help`: the same command as `litft merge_lora`."""

from litft.cli import run_function
from litft.models.merge import merge_lora

if __name__ == "__main__":
    run_function(merge_lora)
