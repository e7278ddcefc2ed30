"""Fixtures for the prepare-stage tests: a tiny tokenizer trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path; the helper module here needs it.
from tests.support.tiny_corpus import make_tokenizer


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    return make_tokenizer(tmp_path_factory.mktemp("tokenizer") / "tok")
