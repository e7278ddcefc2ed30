"""`python generate/base.py --checkpoint_dir DIR --prompt "..."`: generate from a base checkpoint.

The same command as `litft generate`: the checkpoint directory itself tells which method made it.
"""

from litft.cli import run_function
from litft.generation.generate import generate

if __name__ == "__main__":
    run_function(generate)
