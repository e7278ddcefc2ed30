"""Calls to OpenAI-compatible models (synthesis, the judge). No torch.

The client with retries and limits, and the on-disk response cache.
"""
