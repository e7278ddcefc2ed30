"""Shared fixtures for the data-layer tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which puts no test folder on sys.path; the helper modules here need it.
sys.path.insert(0, str(Path(__file__).parent))

from local_site import SiteServer  # noqa: E402


@pytest.fixture
def server_factory():
    servers: list[SiteServer] = []

    def make(routes: dict) -> SiteServer:
        server = SiteServer(routes).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
