"""`python scripts/convert_lit_checkpoint.py --help`: the same command as `litft convert lit_to_hf`."""

from litft.cli import run_function
from litft.models.convert import convert_lit_checkpoint

if __name__ == "__main__":
    run_function(convert_lit_checkpoint)
