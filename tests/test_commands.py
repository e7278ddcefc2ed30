"""The light entry points of the model commands take exactly the arguments and help of their implementations."""

from __future__ import annotations

import inspect

import pytest

from litft import commands
from litft.common.settings import SamplingSettings
from litft.generation import chat, generate
from litft.models import convert, gguf_import, merge


@pytest.mark.parametrize(
    "entry,implementation",
    [
        (commands.convert_hf_checkpoint, convert.convert_hf_checkpoint),
        (commands.convert_lit_checkpoint, convert.convert_lit_checkpoint),
        (commands.convert_gguf_checkpoint, gguf_import.convert_gguf_checkpoint),
        (commands.merge_lora, merge.merge_lora),
        (commands.generate, generate.generate),
        (commands.chat, chat.chat),
    ],
    ids=lambda function: function.__name__,
)
def test_entry_point_matches_its_implementation(entry, implementation):
    assert inspect.signature(entry).parameters == inspect.signature(implementation).parameters
    assert inspect.getdoc(entry) == inspect.getdoc(implementation)


def test_generate_refuses_bad_values_before_loading_a_model(tmp_path):
    from litft.common.errors import LitftError

    (tmp_path / "prompts.txt").write_text("hi\n")
    with pytest.raises(LitftError, match="--output .* is the same path as --prompts_file"):
        commands.generate(tmp_path, prompts_file=tmp_path / "prompts.txt", output=tmp_path / "prompts.txt")
    with pytest.raises(LitftError, match="--sampling.top_p must be in"):
        commands.generate(tmp_path, prompt="hi", sampling=SamplingSettings(top_p=2.0))
    with pytest.raises(LitftError, match="--prompts_file .* is a folder"):
        commands.generate(tmp_path, prompts_file=tmp_path)
