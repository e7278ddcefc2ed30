"""QLoRA runs on the tiny base: the loss falls, the first step equals LoRA on the dequantized base, a SIGKILLed run
resumes exactly with 8-bit AdamW state, generation and merge/export agree with a base quantized by hand, and on the CPU
glibc is told to map the weight copies before the base loads."""

from __future__ import annotations

import bitsandbytes as bnb
import pytest
import torch

from litft.cli import main
from litft.models.checkpoint import inspect_checkpoint, load_state_dict, save_checkpoint
from litft.models.quantize import build_quantized_model, is_quantized
from tests.support.training import command, read_rows, run_killed, train_losses, val_losses, weights

QLORA = {mode: ["--quantize", mode, "--optimizer.lr", "1e-2"] for mode in ("bnb.nf4", "bnb.int8")}
# 8-bit AdamW keeps 8-bit moments only for tensors of 4096+ elements: rank 64 makes every LoRA A (64 x 64) one.
EIGHT_BIT = ["--quantize", "bnb.nf4", "--optimizer.name", "adamw8bit", "--lora.r", "64"]


def dequantized_checkpoint(lit_base, mode, target):
    """A full checkpoint whose Linear weights are what the quantized layers compute with."""
    info = inspect_checkpoint(lit_base)
    base = load_state_dict(info.weights_path)
    model = build_quantized_model("full", info.config, None, base, None, mode, torch.float32, "cpu")
    state = dict(base)
    for name, layer in model.named_modules():
        if is_quantized(layer):
            weight = layer.weight
            if isinstance(layer, bnb.nn.Linear8bitLt):
                state[name + ".weight"] = bnb.functional.int8_vectorwise_dequant(weight.data, weight.SCB)
            else:
                state[name + ".weight"] = bnb.functional.dequantize_4bit(weight.data, weight.quant_state)
    save_checkpoint(target, method="full", state_dict=state, config=info.config, source_dir=lit_base)
    return target


@pytest.fixture(scope="module")
def qlora_runs(tmp_path_factory, lit_base, ft_data):
    runs = {}
    for mode, extra in QLORA.items():
        out = tmp_path_factory.mktemp(mode) / "out"
        main(command("lora", lit_base, ft_data, out, extra))
        runs[mode] = out
    return runs


# int8 also rounds each input row to 8 bits (LLM.int8) where the dequantized base computes in fp32
FIRST_STEP_TOLERANCE = {"bnb.nf4": 1e-5, "bnb.int8": 2e-3}


@pytest.mark.parametrize("mode", QLORA)
def test_loss_falls_and_first_step_equals_lora_on_the_dequantized_base(mode, qlora_runs, lit_base, ft_data, tmp_path):
    losses = train_losses(qlora_runs[mode])
    assert losses[-1] < losses[0] - 0.05, losses
    hparams = inspect_checkpoint(qlora_runs[mode] / "final").hyperparameters
    assert hparams["quantize"] == mode
    saved = load_state_dict(qlora_runs[mode] / "final" / "lit_model.pth.lora")
    assert saved and all("lora_" in key for key in saved)  # only the LoRA weights, in the run's precision
    assert {value.dtype for value in saved.values()} == {torch.float32}

    dequantized = dequantized_checkpoint(lit_base, mode, tmp_path / "dequantized")
    plain = tmp_path / "plain"
    main(command("lora", dequantized, ft_data, plain, ["--optimizer.lr", "1e-2", "--train.max_steps", "1"]))
    # LoRA's B starts at zero, so the first step's loss is the base's: equal up to the kernels' rounding
    assert train_losses(plain)[0] == pytest.approx(losses[0], abs=FIRST_STEP_TOLERANCE[mode])


@pytest.mark.slow
def test_exact_resume_after_sigkill_with_8bit_adamw_state(tmp_path, lit_base, ft_data):
    reference, out = tmp_path / "reference", tmp_path / "out"
    main(command("lora", lit_base, ft_data, reference, EIGHT_BIT))
    args = command("lora", lit_base, ft_data, out, EIGHT_BIT)
    killed = run_killed(args, kill_at_forward=11)  # the first half of step 6; step-000004 is the newest checkpoint
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (out / "step-000004").is_dir() and not (out / "final").exists()
    state = torch.load(out / "step-000004" / "training_state.pth", weights_only=True)["optimizer"]["state"]
    moments = [value["__bnb_optimizer_quant_state__"]["state1"] for value in state.values()]
    assert moments and all(moment.dtype == torch.uint8 for moment in moments)  # 8-bit AdamW state was saved

    main(args + ["--resume", "auto"])

    assert train_losses(out) == train_losses(reference)
    assert val_losses(out) == val_losses(reference)
    assert len(read_rows(out)) == len(read_rows(reference))
    resumed, expected = weights(out / "final"), weights(reference / "final")
    assert resumed.keys() == expected.keys()
    for key in expected:
        assert torch.equal(resumed[key], expected[key]), key


def hand_built(lit_base, run, mode):
    """The run's LoRA model on a base quantized here with bitsandbytes' layers, not through litft's loader."""
    from litft.models.build import build_model, load_weights

    info = inspect_checkpoint(run)
    model = build_model("lora", info.config, info.settings)
    load_weights(
        model, "lora", load_state_dict(inspect_checkpoint(lit_base).weights_path), load_state_dict(info.weights_path)
    )
    for name, module in list(model.named_modules()):
        if type(module) is torch.nn.Linear and not name.startswith("lm_head"):
            layer = bnb.nn.Linear4bit(
                module.in_features,
                module.out_features,
                bias=False,
                quant_type="nf4",
                compress_statistics=False,
                compute_dtype=torch.float32,
            )
            layer.weight = bnb.nn.Params4bit(
                module.weight.data, requires_grad=False, quant_type="nf4", compress_statistics=False
            ).to("cpu")
            layer.support_avx512bf16_for_cpu = False  # the one CPU kernel training used
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, layer)
    return model.eval()


def test_generation_equals_the_hand_quantized_base_plus_lora(qlora_runs, lit_base):
    from litft.common.settings import SamplingSettings
    from litft.generation.generate import LoadedModel

    run = qlora_runs["bnb.nf4"]
    loaded = LoadedModel(run, device="cpu")  # the run's recorded bnb.nf4, as it trained
    assert loaded.quantize == "bnb.nf4" and sum(is_quantized(m) for m in loaded.model.modules()) == 10
    settings = SamplingSettings(temperature=0.0, max_new_tokens=12)
    prompts = [loaded.format("what courses does the school offer"), loaded.format("when is the deadline")]
    ours = [c.text for c in loaded.complete(prompts, settings)]
    loaded.model = hand_built(lit_base, run, "bnb.nf4")
    assert [c.text for c in loaded.complete(prompts, settings)] == ours
    assert LoadedModel(run, device="cpu", quantize="none").quantize is None  # full precision on request


def test_merge_and_export_are_full_precision_and_load_in_transformers(qlora_runs, lit_base, tmp_path, capsys):
    import transformers

    from litft.generation.generate import LoadedModel

    run = qlora_runs["bnb.nf4"]
    main(["merge_lora", str(run), "--out_dir", str(tmp_path / "merged")])
    assert "the merged weights are full precision" in capsys.readouterr().out
    assert "quantize" not in inspect_checkpoint(tmp_path / "merged").hyperparameters
    main(["convert", "lit_to_hf", str(run), str(tmp_path / "hf")])
    assert "full precision" in capsys.readouterr().out
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    tokens = torch.randint(0, 384, (2, 19), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        exported = hf(tokens).logits
        quantized = LoadedModel(run, device="cpu").model(tokens)
    # full-precision merge against the NF4 base it trained on: apart by NF4's rounding of this tiny random base
    difference = (exported - quantized[..., : exported.shape[-1]]).abs().max()
    assert 0 < difference < 0.6 * quantized.std()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--optimizer.name", "paged_adamw8bit"], "runs on a CUDA GPU only; use --optimizer.name adamw8bit"),
        (["--quantize", "bnb.nf5"], "--quantize 'bnb.nf5' is not valid"),
        (["--quantize", "bnb.nf4", "--strategy", "fsdp", "--devices", "2"], "--quantize trains on one device"),
    ],
)
def test_bad_lora_combinations_are_one_sentence_and_exit_2(extra, message, lit_base, ft_data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command("lora", lit_base, ft_data, tmp_path / "out", extra))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1, err


def test_quantize_with_full_fine_tuning_is_refused(lit_base, ft_data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command("full", lit_base, ft_data, tmp_path / "out", ["--quantize", "bnb.nf4"]))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "works with LoRA fine-tuning (QLoRA) only" in err and err.count("\n") == 1


def test_a_cpu_without_avx2_is_refused_in_one_sentence(lit_base, ft_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    with pytest.raises(SystemExit) as exit_info:
        main(command("lora", lit_base, ft_data, tmp_path / "out", ["--quantize", "bnb.nf4"]))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "needs a processor with AVX2" in err and err.count("\n") == 1


def test_a_cpu_run_maps_the_weight_copies_on_their_own_before_the_base_loads(lit_base, ft_data, tmp_path, monkeypatch):
    # litft.train.host_memory: set after the load, glibc would still carve the copies out of the load's free blocks
    import litft.models.quantize
    import litft.train.job

    calls = []
    build = litft.models.quantize.build_quantized_model
    monkeypatch.setattr(litft.train.job, "keep_freed_memory", lambda map_from: calls.append(("malloc", map_from)))
    monkeypatch.setattr(
        litft.models.quantize, "build_quantized_model", lambda *args: calls.append(("load", None)) or build(*args)
    )
    main(command("lora", lit_base, ft_data, tmp_path / "out", [*QLORA["bnb.nf4"], "--train.max_steps", "1"]))
    # the smallest quantized layer of the tiny base is 64 x 64, its copy in the run's fp32 16 KiB
    assert calls == [("malloc", 64 * 64 * 4), ("load", None)]
