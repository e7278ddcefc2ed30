"""Calls to OpenAI-compatible models (synthesis, the judge): the client with retries and limits, and the on-disk response cache. No torch."""
