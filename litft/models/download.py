"""Download a Hugging Face model (weights as safetensors, config and tokenizer only), then convert it."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from huggingface_hub import list_repo_files, snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from litft.common.errors import LitftError
from litft.common.settings import DType

CONFIG_AND_TOKENIZER = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
]
SAFETENSORS = ["*.safetensors", "model.safetensors.index.json"]
PICKLED = ["*.bin", "pytorch_model.bin.index.json"]

try:  # huggingface_hub 1.x talks through httpx, whose connection errors are not OSErrors
    from httpx import TransportError as _TransportError
except ImportError:
    _TransportError = OSError


def weight_patterns(repo_files: list[str]) -> list[str]:
    """Safetensors when the repo has them (no pickles to trust, lazily loadable); .bin only as a fallback."""
    has_safetensors = any(fnmatch.fnmatch(name, "*.safetensors") for name in repo_files)
    return SAFETENSORS if has_safetensors else PICKLED


def download(
    repo_id: str,
    access_token: str | None = None,
    checkpoint_dir: Path = Path("checkpoints"),
    model_name: str | None = None,
    dtype: DType | None = None,
    convert: bool = True,
) -> Path:
    """Download REPO_ID into CHECKPOINT_DIR/REPO_ID and convert it to a litgpt checkpoint.

    Args:
        repo_id: The Hugging Face repository, e.g. meta-llama/Llama-2-7b-hf.
        access_token: Token for gated repositories; by default the HF_TOKEN environment variable.
        checkpoint_dir: Parent directory of the downloaded model.
        model_name: litgpt config name, when the repository's name is not one (else derived from config.json).
        dtype: Convert the weights to this dtype.
        convert: Convert to litgpt format after downloading.
    """
    check_repo_id(repo_id)
    token = access_token or os.environ.get("HF_TOKEN")
    local_dir = Path(checkpoint_dir) / repo_id
    try:
        patterns = CONFIG_AND_TOKENIZER + weight_patterns(list_repo_files(repo_id, token=token))
        snapshot_download(repo_id, local_dir=local_dir, allow_patterns=patterns, token=token)
    except GatedRepoError:
        raise LitftError(
            f"{repo_id} is gated: accept its license on huggingface.co, then set HF_TOKEN to an access token "
            "(or pass --access_token)."
        ) from None
    except RepositoryNotFoundError:
        raise LitftError(
            f"{repo_id} was not found on the Hugging Face Hub (or it is private: set HF_TOKEN); check the name."
        ) from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, _TransportError) as error:
        raise LitftError(
            f"could not download {repo_id} from the Hugging Face Hub ({type(error).__name__}); check the network."
        ) from None
    from litft.models.tokenizer_fidelity import repair_special_tokens  # torch loads only once the download is done

    for sentence in repair_special_tokens(local_dir):  # litft fetched these files, so it may correct them
        print(sentence)
    if convert:
        from litft.models.convert import convert_hf_checkpoint

        convert_hf_checkpoint(local_dir, model_name=model_name, dtype=dtype)
    return local_dir


def check_repo_id(repo_id: str) -> None:
    """Refuse what the Hub would refuse, before any request: the id also becomes a folder under --checkpoint_dir,
    so `../../x` must never reach the file system."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        verdict = str(error).split(": '", 1)[0].replace(". The", ", and the")  # drop the echoed id, make one sentence
        raise LitftError(
            f"{repo_id!r} is not a Hugging Face repository id: {verdict[:1].lower()}{verdict[1:]}; "
            "give one like meta-llama/Llama-2-7b-hf."
        ) from None
