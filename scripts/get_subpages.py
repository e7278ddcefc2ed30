"""Crawl a site and write its in-scope page URLs: `python scripts/get_subpages.py URL OUT.json [--max_pages N ...]`."""

from litft.cli import run_function
from litft.data.acquire.crawl import crawl

if __name__ == "__main__":
    run_function(crawl, prog="get_subpages.py")
