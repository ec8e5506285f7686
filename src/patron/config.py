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
from patron.outfile import write_whole

CONFIG_FILE = "patron.toml"
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED
    VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX
    YER ZAR ZMW ZWG
"""
"""ISO 4217's list one, the current codes (currencies, funds, metals and test codes), as
amended to 2025."""
_WITHDRAWN = "BYR HRK LTL LVL MRO SLL STD VEF ZWL"
"""Codes ISO 4217 withdrew since 2014 (the kuna, HRK, in 2023), which a shop's older orders
still carry."""
CURRENCIES = frozenset(_ISO_4217.split() + _WITHDRAWN.split())
"""The currency codes patron takes. Another is a typo (``UDS``) that would label every report
or keep an order's amounts apart from the rest."""
_KINDS = {str: "text", int: "a whole number"}
"""The settings' kinds, as a message names them."""


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
        if (code := self.currency.upper()) not in CURRENCIES:
            raise InputError(
                f"currency {self.currency!r} is not a 3-letter ISO 4217 code"
                f"{_one_typo_from(code)}; use one such as 'USD' or 'EUR'"
            )
        object.__setattr__(self, "currency", code)  # upper case, as orders' codes are stored
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
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not valid TOML ({exc}); fix or re-create it") from exc
        try:  # a bad value names the file it is in, not only the setting
            identity = IdentityConfig(**_known(IdentityConfig(), data.pop("identity", {})))
            return cls(**_known(cls(), data), identity=identity)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from exc

    def write(self, folder: Path) -> Path:
        """Write the settings as TOML, so a user can read and edit them."""
        data = asdict(self)
        identity = data.pop("identity")
        lines = [f"{key} = {_toml(value)}" for key, value in data.items()]
        lines += ["", "[identity]", *(f"{k} = {_toml(v)}" for k, v in identity.items())]
        path = folder / CONFIG_FILE  # whole or not at all: an empty file reads as defaults
        write_whole(path, lambda part: part.write_text("\n".join(lines) + "\n", encoding="utf-8"))
        return path


def _one_typo_from(code: str) -> str:
    """' (did you mean 'USD' or 'UZS'?)' for the codes one typo from ``code`` (a letter
    changed, or two next to each other swapped: ``UDS``), else ''. Closeness by shape alone
    (``difflib``) ranks ``UZS`` above ``USD`` for ``UDS``."""
    swaps = {code[:i] + code[i + 1] + code[i] + code[i + 2 :] for i in range(len(code) - 1)}
    near = [
        repr(c)
        for c in sorted(CURRENCIES)
        if c in swaps
        or (len(c) == len(code) and sum(a != b for a, b in zip(c, code, strict=True)) == 1)
    ]
    if not near:
        return ""
    *others, last = near
    return f" (did you mean {', '.join(others) + ' or ' if others else ''}{last}?)"


def _known(defaults: Any, data: Any) -> dict[str, Any]:
    """``data`` if it is a table of settings of ``defaults``' class, each of its default's
    type (an edited file's ``max_links = "5"`` or ``timezone = 5`` fails here, not deep
    inside)."""
    if not isinstance(data, dict):
        raise InputError(f"identity = {_toml(data)} is not a table; write it as [identity]")
    names = {f.name for f in fields(defaults)} - {"identity"}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"unknown setting(s) {unknown}; known: {sorted(names)}")
    for name, value in data.items():
        default = getattr(defaults, name)
        if type(value) is not type(default):
            raise InputError(
                f"{name} = {_toml(value)} is not {_KINDS[type(default)]}; write it "
                f"as the default is written: {name} = {_toml(default)}"
            )
    return data


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value).lower() if isinstance(value, bool) else str(value)
