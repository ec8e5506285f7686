"""The README's tours work as written: its Python API tour runs on a small synthetic shop, and
every ``--flag`` the README and ``docs/`` give a ``patron`` command is one that command has.

The Python tour is executed from README.md itself (not a copy), with the few names it leaves to
the reader (``events_df``, ``df``, ``frequency``, ...) and the files it reads (``orders.csv``
with an ``Amount`` column, ``spend.csv``) made up front.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cli_support import ok, patron_here
from patron.samples.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
GROUPS = {"quarantine", "customer", "sample", "export", "experiment", "insights"}


def _python_tour() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's Python API section has no python block"
    return match.group(1)


def _shop_files(folder: Path) -> dict[str, Any]:
    """The tour's inputs: the sample's orders with ``Amount`` for revenue (and ana, whose phone
    and email the tour looks up), its events as a data frame, a transactions frame, a spend
    file, and a few customers' (frequency, recency, T)."""
    paths = generate(folder / "data", customers=300, seed=3)
    orders = pd.read_csv(paths["orders"], dtype=str, keep_default_na=False)
    orders = orders.drop(columns=["currency"]).rename(columns={"revenue": "Amount"})
    ana = {"order_id": "ANA-1", "email": "ana@example.com", "phone": "+49 30 1234567"}
    ana |= {"ordered_at": "2024-05-02 10:00:00", "channel": "web", "Amount": "20.00"}
    orders = pd.concat([orders, pd.DataFrame([ana])], ignore_index=True).fillna("")
    orders.to_csv(folder / "orders.csv", index=False)
    (folder / "spend.csv").write_text("channel,month,spend\nweb,2024-01,500\n")
    bought = orders[(orders.email != "") & ~orders.Amount.str.startswith("-")]
    return {
        "events_df": pd.read_csv(paths["events"], dtype=str, keep_default_na=False),
        "df": pd.DataFrame(
            {
                "id": bought.email,
                "date": bought.ordered_at.str[:10],
                "amount": bought.Amount.astype(float),
            }
        ),
        "frequency": np.array([2, 0, 5]),
        "recency": np.array([30.4, 0.0, 60.0]),
        "T": np.array([38.9, 20.0, 70.0]),
    }


def test_readme_python_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = _shop_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_tour(), str(README), "exec"), namespace)
    ws = namespace["ws"]
    try:
        assert namespace["result"].inserted > 0
        assert ws.customer("+49 30 1234567") == ws.customer("ana@example.com")
        status, kpis = set(ws.status()), set(ws.kpis())
    finally:
        ws.close()
    assert (tmp_path / "customers.parquet").exists()
    # "same keys as `patron status --json`", "same keys as --json"
    assert status == set(ok(patron_here("-w", "shop", "status", "--json", cwd=tmp_path)))
    assert kpis == set(ok(patron_here("-w", "shop", "kpis", "--json", cwd=tmp_path)))


def _documented_flags() -> list[tuple[str, int, str, str]]:
    """(file, line, command, flag) for each ``--flag`` written after ``patron COMMAND`` on a
    line of the README or the docs (``command`` is ``experiment analyze`` for a group)."""
    found = []
    pattern = re.compile(
        r"patron (?:(?:-w|--workspace) \S+ |--debug )?([a-z]+)(?: ([a-z]+))?([^`\n#]*)"
    )
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in pattern.finditer(line):
                command, sub, rest = match.groups()
                if command not in _commands():
                    continue
                if command in GROUPS:
                    if not sub:
                        continue
                    command = f"{command} {sub}"
                rest = rest.split(" patron ")[0]
                for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-k)\b", rest):
                    found.append((path.name, number, command, flag))
    return found


@cache
def _tree() -> dict[str, set[str]]:
    """Every command (``kpis``, ``experiment analyze``) and its options, from the app itself."""
    import typer.main

    from patron.cli import app

    def walk(command: Any, name: str) -> dict[str, set[str]]:
        found = {name: {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}}
        for sub, child in getattr(command, "commands", {}).items():
            found |= walk(child, f"{name} {sub}".strip())
        return found

    return walk(typer.main.get_command(app), "")


def _commands() -> set[str]:
    return {name for name in _tree() if name and " " not in name}


def test_every_documented_flag_exists() -> None:
    flags = _documented_flags()
    assert len(flags) > 50  # the docs name many; a broken pattern would find none
    missing = [
        f"{file}:{line}: patron {command} {flag}"
        for file, line, command, flag in flags
        if flag not in _tree().get(command, set())
    ]
    assert not missing, "\n".join(missing)


def test_every_command_is_documented() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCS)
    leaves = [n for n in _tree() if n and not any(o.startswith(f"{n} ") for o in _tree())]
    assert len(leaves) > 30
    assert not [n for n in sorted(leaves) if f"patron {n}" not in text]
