"""The prepare layer: tokenizer training and text or instruction records into memory-mapped token files (format.py).

Modules: format (token files, meta.json, staging), sources (input files), pretrain, finetune, tokenizer_training.
"""
