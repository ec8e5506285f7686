"""Fixtures several test modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pg_server


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A PostgreSQL server of the module's own (``pg_server``), its URL without a database."""
    if pg_server.binaries() is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs it)")
    with pg_server.server() as url:
        yield url
