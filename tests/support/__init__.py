"""Helpers the tests share.

A local site server, a fake OpenAI-compatible API, tiny corpora, tiny training runs, disk faults.
"""
