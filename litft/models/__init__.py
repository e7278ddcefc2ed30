"""The model layer on litgpt: building models per method, checkpoints, HF conversion, merge, download, tokenizers, prompt styles."""
