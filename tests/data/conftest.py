"""Shared fixtures for the data-layer tests."""

from __future__ import annotations

import pytest

from tests.support.local_site import SiteServer


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
