"""The method registry: every method builds, saves and reads back through its description alone."""

from __future__ import annotations

import pytest

from litft.common.errors import LitftError
from litft.models.build import build_model, resolve_config
from litft.models.checkpoint import inspect_checkpoint, load_state_dict, write_checkpoint_files
from litft.models.methods import METHODS, get_method


@pytest.mark.filterwarnings("ignore:no tokenizer files")
@pytest.mark.parametrize("name", METHODS)
def test_every_method_saves_a_checkpoint_it_reads_back(name, tmp_path):
    method = get_method(name)
    config = resolve_config("litft-tiny-llama")
    model = build_model(name, config)
    base = tmp_path / "base" if method.delta_only else None
    write_checkpoint_files(
        tmp_path, method=name, state_dict=model.state_dict(), config=config, base_checkpoint_dir=base
    )

    info = inspect_checkpoint(tmp_path)
    assert (info.method, info.weights_path.name, info.base_dir) == (name, method.weights_file, base and base.resolve())
    assert info.settings == (method.settings_class() if method.settings_class else None)
    trainable = {key for key, parameter in model.named_parameters() if parameter.requires_grad}
    kept = set(load_state_dict(info.weights_path))
    assert trainable == kept if method.delta_only else trainable <= kept


def test_an_unknown_method_is_a_user_error():
    with pytest.raises(LitftError, match="unknown method 'qlora'; choose one of pretrain, full, lora, adapter_v2."):
        get_method("qlora")
