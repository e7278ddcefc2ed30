"""Benchmark `litft convert lit_to_gguf` against `lit_to_hf`: the seconds and peak RSS of each export of one
checkpoint, each in its own process, and the size of each output.

    python bench/export.py            # TinyLlama-1.1B's shape, random init, a bf16 checkpoint
    python bench/export.py --quick    # a 2-layer dim-128 model: a smoke run of the same code (CI)

The checkpoint is a random-init litgpt model of TinyLlama-1.1B's shape (22 layers, dim 2048, 32 heads, 4 query
groups, MLP 5632, vocab 32000) saved in bf16 as litft saves checkpoints, with a small byte-level BPE tokenizer
(the GGUF pads its token list to the 32000 embedding rows). Each export runs in a fresh process, the checkpoint
read once beforehand so that every side finds it in the page cache: `lit_to_hf` (sharded safetensors,
--max_shard_size 5GB), then `lit_to_gguf --dtype f16` and `--dtype q8_0`. A side's seconds are those of the export
call (imports excluded, as they are the same for all); its export RSS is the process's peak RSS (VmHWM, reset
after the imports) above its RSS before the export, the memory-mapped checkpoint's pages included; the whole
process's peak (imports: ~0.5 GiB of torch, litgpt, transformers) is reported beside it. Prints one JSON line,
`gguf_f16_export_vs_hf`: ratio = GGUF f16 seconds / HF seconds (target <= 1.5), rss_ratio = GGUF f16 export RSS /
checkpoint size (target <= 1.2), the same for q8_0 and the HF export, and each side's figures. The machine may be
shared: the numbers are measured back to back in one run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shapes import QUICK_LLAMA as QUICK_CONFIG
from _shapes import TINYLLAMA as CONFIG

SIDES = ("hf", "gguf-f16", "gguf-q8_0")
CORPUS = "the school offers programs in mechanical civil electrical and software engineering 2024 café naïve"


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def make_checkpoint(root: Path, fields: dict) -> Path:
    """The random-init bf16 checkpoint with a byte-level BPE tokenizer (litft's own trainer)."""
    import torch

    from litft.models.build import build_model, config_from_fields
    from litft.models.checkpoint import save_checkpoint
    from litft.prepare.tokenizer_training import train_tokenizer

    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(f"{CORPUS} {i}" for i in range(200)) + "\n", encoding="utf-8")
    tokenizer = train_tokenizer(data=corpus, out=root / "tokenizer", vocab_size=300, split_lines=True, quiet=True)
    config = config_from_fields(fields, "bench")
    torch.manual_seed(0)
    model = build_model("full", config, dtype=torch.bfloat16)
    return save_checkpoint(
        root / "base", method="full", state_dict=model.state_dict(), config=config, source_dir=tokenizer
    )


def worker(side: str, checkpoint: Path, out: Path) -> dict:
    """One export, timed; its output's size in bytes."""
    from contextlib import redirect_stdout

    from litft.models.convert import convert_lit_checkpoint
    from litft.models.gguf_export import convert_lit_to_gguf

    before = rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak (VmHWM) counts from here
    started = time.perf_counter()
    with redirect_stdout(sys.stderr):  # the commands' own sentences; stdout carries the result only
        if side == "hf":
            convert_lit_checkpoint(checkpoint, out)
        else:
            convert_lit_to_gguf(checkpoint, out, dtype=side.removeprefix("gguf-"))
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file()) if out.is_dir() else out.stat().st_size
    peak = rss_kib("VmHWM")
    return {
        "seconds": seconds,
        "export_rss_mib": (peak - before) / 1024,
        "peak_rss_mib": peak / 1024,
        "output_mib": size / 2**20,
    }


def run_side(side: str, checkpoint: Path, root: Path) -> dict:
    """One side in a fresh process, its output removed afterwards (a 1.1B model's exports take gigabytes)."""
    out = root / (side if side == "hf" else f"{side}.gguf")
    result = subprocess.run(
        [sys.executable, __file__, "--worker", side, "--checkpoint", str(checkpoint), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"bench/export.py: the {side} export failed:\n{result.stderr[-3000:]}")
    subprocess.run(["rm", "-rf", str(out), str(out.with_suffix(".Modelfile"))], check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def summary(fields: dict, results: dict[str, dict], checkpoint_mib: float) -> dict:
    hf, f16, q8 = (results[side] for side in SIDES)
    return {
        "name": "gguf_f16_export_vs_hf",
        "ratio": round(f16["seconds"] / hf["seconds"], 3),
        "target": 1.5,
        "rss_ratio": round(f16["export_rss_mib"] / checkpoint_mib, 3),
        "rss_target": 1.2,
        "q8_0_ratio": round(q8["seconds"] / hf["seconds"], 3),
        "q8_0_rss_ratio": round(q8["export_rss_mib"] / checkpoint_mib, 3),
        "hf_rss_ratio": round(hf["export_rss_mib"] / checkpoint_mib, 3),
        "checkpoint_mib": round(checkpoint_mib, 1),
        **{
            f"{side.replace('-', '_')}_{key}": round(value, 2 if key == "seconds" else 1)
            for side, result in results.items()
            for key, value in result.items()
        },
        "model": f"{fields['name']} ({fields['n_layer']} layers, dim {fields['n_embd']}), random init, bf16, CPU",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 2-layer model: a smoke run of the same code")
    parser.add_argument("--worker", choices=(*SIDES, "make"), help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    fields = QUICK_CONFIG if args.quick else CONFIG
    if args.worker == "make":
        make_checkpoint(args.out, fields)
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.checkpoint, args.out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # made in its own process too: building the model takes as much memory as the checkpoint holds
        quick = ["--quick"] if args.quick else []
        subprocess.run([sys.executable, __file__, "--worker", "make", "--out", str(root), *quick], check=True)
        weights = root / "base" / "lit_model.pth"
        with open(weights, "rb") as fh:  # into the page cache, so that the first side does not pay for the disk
            while fh.read(1 << 24):
                pass
        results = {side: run_side(side, root / "base", root) for side in SIDES}
        checkpoint_mib = weights.stat().st_size / 2**20
    print(json.dumps(summary(fields, results, checkpoint_mib)))


if __name__ == "__main__":
    main()
