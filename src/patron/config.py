"""Workspace settings, stored as ``patron.toml`` in the workspace folder."""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from patron.errors import InputError

CONFIG_FILE = "patron.toml"


@dataclass(frozen=True)
class IdentityConfig:
    """Identity-resolution settings.

    ``max_links``: an identifier seen together with more than this many distinct identifiers of
    one other type (a store's default email on thousands of phones) is not used for linking.
    """

    max_links: int = 10


@dataclass(frozen=True)
class Config:
    """Settings of one workspace; every field has a default so ``patron init DIR`` just works.

    ``memory_limit`` caps the warehouse engine's memory; loads spill to disk beyond it.
    """

    warehouse: str = "duckdb://warehouse.duckdb"
    store: str = "sqlite:///store.sqlite"
    timezone: str = "UTC"
    currency: str = "USD"
    phone_region: str = "US"
    memory_limit: str = "1GB"
    identity: IdentityConfig = field(default_factory=IdentityConfig)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(
                f"unknown timezone {self.timezone!r}; use an IANA name such as 'Europe/Berlin'"
            ) from exc
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise InputError(f"currency {self.currency!r} is not a 3-letter ISO 4217 code")
        if self.phone_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise InputError(
                f"phone region {self.phone_region!r} is not a 2-letter region code such as 'US'"
            )
        if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB)", self.memory_limit.upper()):
            raise InputError(f"memory_limit {self.memory_limit!r} is not a size such as '2GB'")
        if self.identity.max_links < 1:
            raise InputError("identity.max_links must be at least 1")

    @classmethod
    def read(cls, folder: Path) -> Config:
        """Read ``patron.toml`` from ``folder``; unknown keys are an error, not ignored."""
        path = folder / CONFIG_FILE
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc}); fix or re-create it") from exc
        identity = IdentityConfig(**_known(IdentityConfig, data.pop("identity", {}), path))
        return cls(**_known(cls, data, path), identity=identity)

    def write(self, folder: Path) -> Path:
        """Write the settings as TOML, so a user can read and edit them."""
        data = asdict(self)
        identity = data.pop("identity")
        lines = [f"{key} = {_toml(value)}" for key, value in data.items()]
        lines += ["", "[identity]", *(f"{k} = {_toml(v)}" for k, v in identity.items())]
        path = folder / CONFIG_FILE
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def _known(cls: type, data: dict[str, Any], path: Path) -> dict[str, Any]:
    names = {f.name for f in fields(cls)} - {"identity"}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"{path}: unknown setting(s) {unknown}; known: {sorted(names)}")
    return data


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value).lower() if isinstance(value, bool) else str(value)
