"""The model layer on litgpt.

Building models per method, checkpoints, HF conversion, merge, download, tokenizers, prompt styles.
"""
