"""Helpers the tests share: a local site server, a fake OpenAI-compatible API, tiny corpora, tiny training runs, disk faults."""
