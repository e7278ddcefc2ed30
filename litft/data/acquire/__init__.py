"""Stage 1 of the data layer: crawl a site, fetch and extract pages, ingest local documents into pages.jsonl."""
