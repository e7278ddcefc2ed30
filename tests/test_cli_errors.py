"""User errors at the command line: one `error: ` line, exit 2, no traceback, no torch import for what needs no model.

Every command in `litft.cli.COMMANDS` is walked with inputs that do not exist, so a new command is covered as soon as
it is registered. Also: unknown keys and wrong value types, environment OSErrors (full disk, a file as a folder,
no permission), the demo's busy port and chat's non-UTF-8 input.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from litft.cli import COMMANDS, _load, _required_parameters, main, run_function

HEAVY = ("torch", "litgpt", "lightning")
# Runs the CLI and, however it ends, prints which heavy packages were imported by then.
WRAPPER = f"""
import sys
try:
    from litft.cli import main
    main(sys.argv[1:])
finally:
    print("imported:", *sorted(name for name in {HEAVY!r} if name in sys.modules))
"""
# Commands without a required argument get their inputs here ({missing} is a folder that does not exist); the
# others get a missing path for every required argument.
BAD_INPUTS = {
    "demo": ["--port", "70000"],
    "tokenizer train": ["--data", "{missing}/corpus.txt", "--out", "{missing}/tokenizer"],
    "prepare pretrain": [
        "--data",
        "{missing}/corpus.txt",
        "--checkpoint_dir",
        "{missing}/checkpoint",
        "--out",
        "{missing}/out",
    ],
    "prepare preference": [
        "--data",
        "{missing}/pairs.json",
        "--checkpoint_dir",
        "{missing}/checkpoint",
        "--out",
        "{missing}/out",
    ],
    "prepare finetune": [
        "--data",
        "{missing}/train.json",
        "--checkpoint_dir",
        "{missing}/checkpoint",
        "--out",
        "{missing}/out",
    ],
}


def registered_commands(entries: dict = COMMANDS, words: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    commands = []
    for name, entry in entries.items():
        path = words + ((name,) if name else ())
        commands += registered_commands(entry, path) if isinstance(entry, dict) else [(path, entry[0])]
    return commands


def run_cli(*args: str, stdin: bytes | None = None) -> tuple[int, str, list[str]]:
    """Exit code, stderr and the heavy packages imported, of `litft ARGS` in a fresh interpreter."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_PROXY": "*"}
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args], input=stdin, capture_output=True, timeout=300, env=env, check=False
    )
    stdout = result.stdout.decode()
    imported = stdout.rsplit("imported:", 1)[1].split() if "imported:" in stdout else ["(wrapper did not report)"]
    return result.returncode, result.stderr.decode(), imported


def assert_one_line_error(code: int, stderr: str, fragment: str = "") -> str:
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "words,target", registered_commands(), ids=lambda value: " ".join(value) if isinstance(value, tuple) else ""
)
def test_every_command_refuses_a_missing_input_before_importing_torch(words, target, tmp_path):
    missing = tmp_path / "missing"
    required = _required_parameters(_load(target))
    name = " ".join(words)
    assert required or name in BAD_INPUTS, (
        f"`litft {name}` takes no required argument: give it a bad input in BAD_INPUTS"
    )
    args = BAD_INPUTS.get(name) or [str(missing / parameter) for parameter in required]
    code, stderr, imported = run_cli(*words, *(arg.format(missing=missing) for arg in args))
    assert_one_line_error(code, stderr)
    assert imported == [], f"`litft {name}` imported {imported} before refusing its input"
    assert not missing.exists(), f"`litft {name}` created {missing} while refusing it"


def test_every_command_module_imports_without_torch():
    modules = sorted({target.split(":")[0] for _, target in registered_commands()})
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint(*sorted(n for n in {HEAVY!r} if n in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []


@pytest.mark.parametrize("repo_id", ["../../x", "not a repo!!", "a/b/c"])
def test_download_refuses_a_bad_repo_id_before_any_request(repo_id, tmp_path):
    code, stderr, imported = run_cli("download", repo_id, "--checkpoint_dir", str(tmp_path / "checkpoints"))
    line = assert_one_line_error(code, stderr, "is not a Hugging Face repository id")
    assert line.count(". ") == 0 and imported == []
    assert not (tmp_path / "checkpoints").exists()


def error_line(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    return assert_one_line_error(2, captured.err)


def test_unknown_option_names_the_nearest_valid_one(capsys, tmp_path):
    line = error_line(capsys, "finetune", "lora", str(tmp_path), str(tmp_path), "--trian.max_steps", "3")
    assert line == "error: unknown option --trian.max_steps; did you mean --train.max_steps?"
    line = error_line(capsys, "generate", str(tmp_path), "--promt", "hi")
    assert line == "error: unknown option --promt; did you mean --prompt?"


def test_unknown_config_key_names_the_nearest_valid_one(capsys, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("trian:\n  max_steps: 3\nlora:\n  r: 4\n")
    line = error_line(capsys, "finetune", "lora", "--config", str(config), str(tmp_path), str(tmp_path))
    assert line == "error: unknown config key trian.max_steps; did you mean train.max_steps?"


def test_wrong_value_type_is_one_sentence_naming_the_type(capsys, tmp_path):
    line = error_line(capsys, "finetune", "lora", str(tmp_path), str(tmp_path), "--train.max_steps", "banana")
    assert line == "error: --train.max_steps 'banana' is not valid; it must be an integer or null."
    line = error_line(capsys, "finetune", "lora", str(tmp_path), str(tmp_path), "--precision", "99")
    assert line.startswith("error: --precision '99' is not valid; it must be one of 32-true, bf16-true")


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
@pytest.mark.parametrize(
    "command",
    [
        ("split", "--input", "{missing}/qa.jsonl", "--out_dir", "{missing}/split"),
        ("prepare", "finetune", "--data", "{missing}/train.json", "--out", "{missing}/data"),
        ("finetune", "lora", "{missing}/data", "{missing}/checkpoint"),
    ],
)
def test_every_seed_out_of_range_is_one_sentence_before_any_work(command, seed, capsys, tmp_path):
    """numpy refused a negative seed with a traceback, and Lightning silently replaced one past 2**32 - 1."""
    line = error_line(capsys, *(word.format(missing=tmp_path / "missing") for word in command), "--seed", seed)
    assert line == f"error: --seed must be between 0 and {2**32 - 1}, got {seed}."


def test_missing_required_argument_and_missing_config_file(capsys, tmp_path):
    assert error_line(capsys, "convert", "hf_to_lit").startswith("error: --checkpoint_dir is required;")
    line = error_line(capsys, "finetune", "lora", "--config", str(tmp_path / "none.yaml"))
    assert line.startswith("error: --config: ") and "none.yaml" in line


def test_help_and_print_config_still_print(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["finetune", "lora", "--help"])
    assert exit_info.value.code == 0
    assert "--train.max_steps" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["finetune", "lora", str(tmp_path), str(tmp_path), "--train.max_steps", "3", "--print_config"])
    assert exit_info.value.code == 0
    assert "max_steps: 3" in capsys.readouterr().out


def write_report(out: Path) -> None:
    """A command that writes its output as litft commands do."""
    Path(out).write_text("x" * 100_000, encoding="utf-8")


def read_input(data: Path) -> None:
    """A command that reads its input without checking it first."""
    Path(data).read_text(encoding="utf-8")


def run_error(capsys, function, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run_function(function, list(args), prog="t")
    assert exit_info.value.code == 2
    return assert_one_line_error(2, capsys.readouterr().err)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, the always-full device")
def test_full_disk_names_the_file_and_says_the_output_is_intact(capsys):
    line = run_error(capsys, write_report, "/dev/full")
    assert line == (
        "error: could not write /dev/full: No space left on device "
        "(free some space and re-run; what was already written is intact)."
    )


def test_a_file_used_as_a_folder_names_the_path(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("a file")
    line = run_error(capsys, write_report, str(tmp_path / "notes.txt" / "report.json"))
    assert line == (
        f"error: could not open {tmp_path}/notes.txt/report.json: Not a directory "
        "(a part of the path is a file, not a folder; choose another path)."
    )


def test_a_folder_given_as_the_input_file(capsys, tmp_path):
    line = run_error(capsys, read_input, str(tmp_path))
    assert line == f"error: could not open {tmp_path}: Is a directory (it is a folder; give a file path)."


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_names_the_file(capsys, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        line = run_error(capsys, write_report, str(folder / "report.json"))
    finally:
        folder.chmod(0o755)
    assert line == (
        f"error: could not open {folder}/report.json: Permission denied (fix its permissions or choose another path)."
    )


def test_a_missing_file_the_user_did_not_name_stays_a_traceback(tmp_path):
    def open_internal(out: Path) -> None:
        """A command that opens a file of its own: its absence is a bug."""
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(tmp_path / "internal" / "state.json"))

    with pytest.raises(FileNotFoundError):
        run_function(open_internal, [str(tmp_path / "out")], prog="t")


def test_a_missing_file_the_user_named_is_one_sentence(capsys, tmp_path):
    line = run_error(capsys, read_input, str(tmp_path / "absent.txt"))
    assert line == f"error: could not open {tmp_path}/absent.txt: No such file or directory (check the path)."


def test_demo_refuses_a_busy_port_before_writing_anything(capsys, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = error_line(capsys, "demo", "--out", str(tmp_path / "demo"), "--port", str(port))
    assert line.startswith(f"error: port {port} on 127.0.0.1 is not free") and "--port" in line
    assert not (tmp_path / "demo").exists()


def test_chat_skips_a_line_that_is_not_utf8(lit_base):
    stdin = b"What is litft?\ncaf\xe9 \xff\xfe\nTell me more.\n"
    result = subprocess.run(
        [sys.executable, "-m", "litft.cli", "chat", str(lit_base), "--device", "cpu", "--sampling.max_new_tokens", "3"],
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 0 and "Traceback" not in stderr, stderr
    assert stderr.count("skipped a line that is not UTF-8 text") == 1
    assert result.stdout.decode().count(">> Reply: ") == 2
