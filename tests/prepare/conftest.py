"""Fixtures for the prepare-stage tests: a tiny tokenizer trained once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path; the helper module here needs it.
sys.path.insert(0, str(Path(__file__).parent))

from tiny_corpus import make_tokenizer  # noqa: E402


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    return make_tokenizer(tmp_path_factory.mktemp("tokenizer") / "tok")
