"""`python finetune/kto.py ...` = `litft finetune kto`; also runs under `fabric run ... finetune/kto.py`."""

from litft.cli import run_function
from litft.train.entry import finetune_kto

if __name__ == "__main__":
    run_function(finetune_kto)
