"""`python finetune/dpo.py ...` = `litft finetune dpo`; also runs under `fabric run ... finetune/dpo.py`."""

from litft.cli import run_function
from litft.train.entry import finetune_dpo

if __name__ == "__main__":
    run_function(finetune_dpo)
