"""The forgetting check of `litft evaluate --general_text`: each model's perplexity on general text the user
supplies, so a team sees what domain tuning cost in general ability beside what it gained on the test split.

Perplexity is exp of the token-weighted mean next-token loss over consecutive windows of the model's context
(each window predicts its tokens from the ones before it in the window, as training does), on at most
MAX_TOKENS tokens of the file. Rows compare when their models share a tokenizer and a context length, as a base
and its fine-tuning runs do; each row records the tokens and windows it scored.
"""

from __future__ import annotations

import math
from pathlib import Path

from litft.common.errors import LitftError

MAX_TOKENS = 65_536  # enough for a stable figure on a public-domain sample, seconds on a small model


def read_general_text(path: Path) -> str:
    """The file's text, refused in one sentence when it is not UTF-8 or holds nothing to score."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LitftError(f"--general_text {path} is not UTF-8 text; give a plain-text file.") from None
    if len(text.split()) < 2:
        raise LitftError(f"--general_text {path} holds fewer than two words; give a file of general text.")
    return text


def perplexity(loaded, text: str, max_tokens: int = MAX_TOKENS) -> dict:
    """`loaded` (a generation.LoadedModel)'s perplexity on `text`: {perplexity, tokens (scored), windows}."""
    import torch

    from litft.models.loss import token_loss_sum
    from litft.models.tokenizer import encode_batch

    ids = encode_batch(loaded.tokenizer, [text])[0][:max_tokens]
    if len(ids) < 2:
        raise LitftError("the --general_text file encodes to fewer than two tokens; give a longer text.")
    window = min(loaded.info.config.block_size, loaded.model.max_seq_length)
    total_loss, scored, windows = 0.0, 0, 0
    model = loaded.model
    with torch.inference_mode():
        # Windows share one token: the last target of a window is the first input of the next, so every token
        # after the first is predicted exactly once.
        for start in range(0, len(ids) - 1, window):
            chunk = torch.tensor(ids[start : start + window + 1], dtype=torch.long, device=loaded.device)
            # chunked lm head: a window of the model's context never holds its [T, vocab] logits at once
            total_loss += token_loss_sum(model, chunk[:-1].unsqueeze(0), chunk[1:].unsqueeze(0)).item()
            scored += chunk.numel() - 1
            windows += 1
    return {"perplexity": round(math.exp(total_loss / scored), 4), "tokens": scored, "windows": windows}
