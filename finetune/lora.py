"""`python finetune/lora.py ...` = `litft finetune lora`; also runs under `fabric run ... finetune/lora.py`."""

from litft.cli import run_function
from litft.train.entry import finetune_lora

if __name__ == "__main__":
    run_function(finetune_lora)
