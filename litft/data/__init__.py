"""The data layer: text in, text out (crawl, fetch, extract, clean, chunk, dedup, synthesize, filter, split).

Nothing here imports torch, so data commands start fast and run on machines without it.
"""
