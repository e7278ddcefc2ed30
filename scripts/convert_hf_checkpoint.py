"""`python scripts/convert_hf_checkpoint.py --help`: the same command as `litft convert hf_to_lit`."""

from litft.cli import run_function
from litft.models.convert import convert_hf_checkpoint

if __name__ == "__main__":
    run_function(convert_hf_checkpoint)
