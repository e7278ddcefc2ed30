"""`litft review serve` probes its port before it reads the evaluation: a busy port is one sentence, exit 2."""

from __future__ import annotations

import socket

import pytest

from litft.cli import main


def test_a_busy_port_is_one_sentence_and_exit_2(eval_dir, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            main(["review", "serve", str(eval_dir), "--port", str(port)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0] and "choose another --port" in lines[0]
