"""`python generate/full.py --checkpoint_dir DIR --prompt "..."`: generate from a full fine-tuning run.

The same command as `litft generate`: the checkpoint directory itself tells which method made it.
"""

from litft.cli import run_function
from litft.generation.generate import generate

if __name__ == "__main__":
    run_function(generate)
