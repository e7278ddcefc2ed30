"""`python pretrain/run_pretrain.py ...` = `litft pretrain`.

It also runs under `fabric run ... pretrain/run_pretrain.py`.
"""

from litft.cli import run_function
from litft.train.entry import pretrain

if __name__ == "__main__":
    run_function(pretrain)
