"""Extract the main text of listed pages.

Usage: `python scripts/scrape.py URLS.json OUT_DIR [--extractor html2text] [--txt true]`.
"""

from litft.cli import run_function
from litft.data.acquire.scrape import scrape

if __name__ == "__main__":
    run_function(scrape, prog="scrape.py")
