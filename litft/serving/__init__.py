"""`litft serve`: an OpenAI-compatible HTTP server over any checkpoint or run, with continuous batching."""
