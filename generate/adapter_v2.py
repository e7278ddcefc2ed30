"""`python generate/adapter_v2.py --checkpoint_dir DIR --prompt "..."`: generate from an adapter-v2 run.

Its weights are applied to the base its hyperparameters.yaml names.

The same command as `litft generate`: the checkpoint directory itself tells which method made it.
"""

from litft.cli import run_function
from litft.generation.generate import generate

if __name__ == "__main__":
    run_function(generate)
