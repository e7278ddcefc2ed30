"""Model shapes the benches share; a module they import, not a benchmark (tests/test_benches.py skips bench/_*.py)."""

# TinyLlama-1.1B's shape (litgpt's "tiny-llama-1.1b"): the embedding and output layer are ~12% of its weights, as in
# the models QLoRA and GGUF export are used on
TINYLLAMA = dict(
    name="bench-tinyllama-1.1b-shape",
    block_size=2048,
    n_layer=22,
    n_embd=2048,
    n_head=32,
    n_query_groups=4,
    vocab_size=32000,
    padding_multiple=64,
    norm_class_name="RMSNorm",
    norm_eps=1e-5,
    parallel_residual=False,
    bias=False,
    mlp_class_name="LLaMAMLP",
    intermediate_size=5632,
    rotary_percentage=1.0,
)
# --quick: the same code on a model small enough that a run is a few process starts
QUICK_LLAMA = TINYLLAMA | dict(
    name="bench-llama-tiny", n_layer=2, n_embd=128, n_head=4, n_query_groups=4, vocab_size=1024, intermediate_size=256
)
