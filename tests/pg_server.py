"""A throwaway PostgreSQL server for the tests of a warehouse on PostgreSQL.

``initdb`` into a fresh folder, ``pg_ctl start`` on a free loopback port with trust
authentication, ``pg_ctl stop`` at the end: the tests start the server they need. PostgreSQL
refuses to run as root, so as root (CI runs so) the server runs as the ``postgres`` user. Where
PostgreSQL is not installed the tests skip with the reason (``.ci/run`` installs it).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "patron"


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is missing."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


@contextmanager
def server() -> Iterator[str]:
    """A running server; yields its URL without a database (``postgres://patron@host:port``)."""
    bin_dir = binaries()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed (no initdb on PATH)")
    data = Path(tempfile.mkdtemp(prefix="patron-pg-"))
    run_as = _owner(data)
    port = free_port()
    _run(run_as, bin_dir / "initdb", "-D", data, "-A", "trust", "-U", USER, "-E", "UTF8")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(run_as, bin_dir / "pg_ctl", "-D", data, "-o", options, "-l", data / "log", "-w", "start")
    try:
        yield f"postgres://{USER}@127.0.0.1:{port}"
    finally:
        _run(run_as, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """A new empty database on the server at ``url``; its URL."""
    import psycopg

    with psycopg.connect(f"{url}/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return f"{url}/{name}"


def _owner(data: Path) -> list[str]:
    """The command prefix that runs the server's tools as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    shutil.chown(data, user="postgres")
    return ["runuser", "-u", "postgres", "--"]


def _run(prefix: list[str], *command: object) -> None:
    subprocess.run([*prefix, *map(str, command)], check=True, capture_output=True, timeout=120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
