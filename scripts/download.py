"""`python scripts/download.py --help`: the same command as `litft download`."""

from litft.cli import run_function
from litft.models.download import download

if __name__ == "__main__":
    run_function(download)
