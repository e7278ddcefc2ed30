"""`python finetune/full.py ...` = `litft finetune full`; also runs under `fabric run ... finetune/full.py`."""

from litft.cli import run_function
from litft.train.entry import finetune_full

if __name__ == "__main__":
    run_function(finetune_full)
