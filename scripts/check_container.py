"""Build the `litft serve` image (Dockerfile) on a Debian base made here, run it on a mounted run, and call it.

    python scripts/check_container.py                      # podman; base from debootstrap; the demo's full run
    python scripts/check_container.py --run out/demo/full  # serve this run instead
    python scripts/check_container.py --engine_args ""      # podman where crun and rlimits work as usual

Where no container image can be pulled, the base is made with `debootstrap --variant=minbase bookworm` and imported
(`podman import`), and the image is built on it (`--build-arg BASE=...`), with CPU torch taken from pip's own
wheel source into the build context's .whl/ (`pip download torch==2.13.0`) and the machine's added certificate
authorities in .ca/. The container then serves the run
mounted read-only at /model, on 0.0.0.0 inside with an API key; the script waits for the image's healthcheck,
checks the server runs as a non-root user, and asks it through the `openai` client (models, a chat completion, and
a request without the key, which must get 401). Prints one JSON line: `container_serve` with the build and start
seconds, the image size and what each check saw. It needs root for debootstrap, podman and network
access to Debian's and PyPI's mirrors; it takes minutes (the build installs torch and litft's dependencies), so it
is a script you run, not a test.

`--engine_args` go to every `run`/`build`: the default suits podman inside a VM whose cgroups are v1 (crun refuses
them: runc) and where raising rlimits is not allowed (explicit --ulimit values).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "localhost/litft-serve:check"
BASE_IMAGE = "localhost/debian-bookworm-minbase:latest"
CONTAINER = "litft-serve-check"
API_KEY = "check-container-key"
PODMAN_ARGS = "--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096"


def sh(*command: str, capture: bool = True, timeout: float = 3600) -> str:
    """Run a command; its output, or exit with the command and the end of what it printed."""
    result = subprocess.run(command, capture_output=capture, text=True, timeout=timeout)
    if result.returncode != 0:
        tail = (result.stdout or "")[-2000:] + (result.stderr or "")[-2000:]
        raise SystemExit(f"`{shlex.join(command)}` failed ({result.returncode}):\n{tail}")
    return result.stdout or ""


def base_image(engine: str) -> str:
    """A Debian 12 base: debootstrap's minbase, imported as an image (made once)."""
    if subprocess.run([engine, "image", "inspect", BASE_IMAGE], capture_output=True).returncode == 0:
        return BASE_IMAGE
    with tempfile.TemporaryDirectory() as folder:
        rootfs = Path(folder) / "rootfs"
        sh("debootstrap", "--variant=minbase", "bookworm", str(rootfs), "http://deb.debian.org/debian")
        archive = Path(folder) / "rootfs.tar"
        sh("tar", "-C", str(rootfs), "-cf", str(archive), ".")
        sh(engine, "import", str(archive), BASE_IMAGE)
    return BASE_IMAGE


def build_context_extras() -> None:
    """CPU torch in the build context's .whl/, from wherever this machine's pip takes it, and this machine's own
    certificate authorities in .ca/ (a proxy that inspects TLS signs PyPI's certificate with one of them)."""
    authorities = ROOT / ".ca"
    authorities.mkdir(exist_ok=True)
    for certificate in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copyfile(certificate, authorities / certificate.name)
    wheels = ROOT / ".whl"
    wheels.mkdir(exist_ok=True)
    if not list(wheels.glob("torch-2.13.0*.whl")):
        sh(sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "torch==2.13.0", "-d", str(wheels))


def served_run(run: Path | None, folder: Path) -> Path:
    """The run to mount: the one given, or the full fine-tuning run of a `litft demo --fast`."""
    if run is not None:
        return run.resolve()
    sh(sys.executable, "-m", "litft.cli", "demo", "--fast", "true", "--out", str(folder / "demo"))
    return folder / "demo" / "full"


def wait_healthy(engine: str, seconds: float) -> float:
    """Seconds until the image's own healthcheck passes (it asks /v1/models with the key)."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        state = subprocess.run([engine, "inspect", "--format", "{{.State.Running}}", CONTAINER], capture_output=True)
        if state.stdout.strip() != b"true":
            logs = subprocess.run([engine, "logs", CONTAINER], capture_output=True, text=True)
            raise SystemExit(f"the container stopped:\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}")
        if subprocess.run([engine, "healthcheck", "run", CONTAINER], capture_output=True).returncode == 0:
            return time.perf_counter() - started
        time.sleep(3)
    raise SystemExit(f"the container was not healthy within {seconds:.0f} s")


def ask(port: int) -> dict:
    """What the `openai` client gets from the container: its models, a chat answer, and a keyless request's status."""
    import openai

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY, timeout=120)
    models = [model.id for model in client.models.list().data]
    reply = client.chat.completions.create(
        model=models[0], messages=[{"role": "user", "content": "Who teaches CS 320?"}], max_tokens=16, temperature=0
    )
    try:
        openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong-key").models.list()
        keyless_status = 200
    except openai.AuthenticationError as error:
        keyless_status = error.status_code
    return {
        "models": models,
        "answer": reply.choices[0].message.content,
        "finish_reason": reply.choices[0].finish_reason,
        "wrong_key_status": keyless_status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine_args", default=PODMAN_ARGS, help="extra arguments of `build` and `run`")
    parser.add_argument("--run", type=Path, help="the run or checkpoint to serve (default: a fresh demo's full run)")
    parser.add_argument("--port", type=int, default=18000)
    args = parser.parse_args()
    engine, engine_args = "podman", shlex.split(args.engine_args)
    if shutil.which(engine) is None:
        raise SystemExit(f"{engine} is not installed (Debian: apt-get install podman debootstrap runc).")
    with tempfile.TemporaryDirectory() as folder:
        run = served_run(args.run, Path(folder))
        base = base_image(engine)
        build_context_extras()
        started = time.perf_counter()
        sh(
            # --format docker: the OCI image format has no HEALTHCHECK
            engine, "build", *engine_args, "--format", "docker", "--network", "host", "-t", IMAGE,
            "--build-arg", f"BASE={base}",
            "--build-arg", "TORCH_INDEX=https://pypi.org/simple", str(ROOT), timeout=3600,
        )  # fmt: skip
        build_seconds = time.perf_counter() - started
        size = sh(engine, "image", "inspect", "--format", "{{.Size}}", IMAGE).strip()
        subprocess.run([engine, "rm", "-f", CONTAINER], capture_output=True)
        sh(
            engine, "run", *engine_args, "-d", "--name", CONTAINER, "-p", f"127.0.0.1:{args.port}:8000",
            "-e", f"LITFT_API_KEY={API_KEY}", "-v", f"{run}:/model:ro", IMAGE,
        )  # fmt: skip
        try:
            healthy_seconds = wait_healthy(engine, 600)
            user = sh(engine, "exec", CONTAINER, "id", "-u").strip()
            answers = ask(args.port)
        finally:
            subprocess.run([engine, "rm", "-f", CONTAINER], capture_output=True)
    summary = {
        "name": "container_serve",
        "base": base,
        "build_seconds": round(build_seconds, 1),
        "image_mib": round(int(size) / 2**20, 1),
        "seconds_to_healthy": round(healthy_seconds, 1),
        "uid": int(user),
        **answers,
    }
    print(json.dumps(summary))
    checks = [summary["uid"] != 0, answers["wrong_key_status"] == 401, bool(answers["models"])]
    if not all(checks):
        raise SystemExit("a check failed: the server must run as non-root and refuse a wrong key")


if __name__ == "__main__":
    main()
