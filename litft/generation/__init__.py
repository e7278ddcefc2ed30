"""Generation from checkpoints: batched KV-cache sampling, litft generate and litft chat."""
