"""`python finetune/adapter_v2.py ...` = `litft finetune adapter_v2`.

It also runs under `fabric run ... finetune/adapter_v2.py`.
"""

from litft.cli import run_function
from litft.train.entry import finetune_adapter_v2

if __name__ == "__main__":
    run_function(finetune_adapter_v2)
