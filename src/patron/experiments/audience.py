"""Who an experiment is about: a segment of the workspace, or people named one by one.

A segment is named as ``DIMENSION=VALUE`` (``stage=defecting``, ``churn_risk=at_risk``) or by a
value alone when only one dimension has it (``Champions``, ``top_10pct``); ``all`` is every
known customer. A file (CSV, Parquet or JSON lines, read by the loaders' readers) or a data frame
names people by ``customer_key``, ``customer_id``, ``email``, ``phone``, ``loyalty_id`` or
``identifier`` (any of those, tried email, phone, customer_id, loyalty_id); a list of identifiers
is read as an ``identifier`` column. Identifiers are normalized as loads do and looked up in
``identities``. Unmatched rows are counted, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from patron.arguments import as_path
from patron.defaults import ALL
from patron.errors import InputError, did_you_mean
from patron.identity.normalize import identifier_sql
from patron.identity.phones import PHONE_CACHE, ensure_phone_cache, phone_candidate_sql
from patron.ingest.readers import (
    RawSource,
    check_file,
    detect_format,
    discard,
    read_file,
    read_frame,
)
from patron.predictions import DIMENSIONS as PREDICTED
from patron.predictions import GROUPS as PREDICTED_GROUPS
from patron.predictions import NOT_SCORED
from patron.segments import DIMENSIONS as SEGMENT_DIMENSIONS
from patron.segments import SEGMENTS, STAGES, TIERS
from patron.sql import ident, scalar

if TYPE_CHECKING:
    from ibis import Table

GROUPS = {
    "rfm_segment": SEGMENTS,
    "stage": STAGES,
    "value_tier": TIERS,
    **{name: (*groups, NOT_SCORED) for name, groups in PREDICTED_GROUPS.items()},
}
"""Every group each dimension can have, whether or not anyone is in it today."""
_OTHER = {"--audience": "pass a file of identifiers, or 'all'"}
"""What else an option takes besides a segment (default: 'all')."""
ID_COLUMNS = ("customer_key", "identifier", "customer_id", "email", "phone", "loyalty_id")
_TRY_ORDER = ("email", "phone", "customer_id", "loyalty_id")


def is_file(spec: str) -> bool:
    """An audience naming an existing file (or ending like one) is a file, else a segment."""
    return Path(spec).is_file() or Path(spec).suffix.lower() in (
        ".csv",
        ".parquet",
        ".jsonl",
        ".txt",
    )


def audience_source(audience: object) -> tuple[str, Any]:
    """The label an experiment records for ``audience``, and what names its people one by one
    (a path, or a data frame or Arrow table with an identifier column); None for a segment."""
    if isinstance(audience, str) and not is_file(audience):
        return audience, None
    if isinstance(audience, str | Path):
        path = as_path(audience, "audience")
        return str(path), path
    if hasattr(audience, "columns"):  # pandas, polars or Arrow
        return f"<{type(audience).__name__}>", audience
    if isinstance(audience, Iterable) and not isinstance(audience, Mapping | bytes):
        import pyarrow as pa

        ids = [str(i) for i in audience]
        return f"<{len(ids)} identifiers>", pa.table({"identifier": pa.array(ids, pa.string())})
    raise InputError(
        "audience must be a segment, 'all', a file, a data frame with an identifier column or "
        f"a list of identifiers, not {type(audience).__name__}"
    )


def segment_audience(
    segments: Table, customers: Table, spec: str, *, option: str = "--audience"
) -> Table:
    """The customer keys in segment ``spec`` (see the module docstring for the syntax);
    errors name ``option``, the command line's name for it."""
    if spec.strip().lower() == ALL:
        return customers.select("customer_key")
    dimensions = [c for c in (*SEGMENT_DIMENSIONS, *PREDICTED) if c in segments.columns]
    column, value = _parse(dimensions, spec, option)
    return segments.filter(segments[column] == value).select("customer_key")


def _parse(dimensions: list[str], spec: str, option: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=")
    if sep:
        name, value = name.strip(), value.strip()
        if name not in dimensions:
            raise InputError(
                f"{option} {spec!r}: no segment dimension {name!r}"
                f"{did_you_mean(name, dimensions)}; choose one of {', '.join(dimensions)}"
            )
        if value not in GROUPS[name]:
            raise InputError(
                f"{option} {spec!r}: {name} has no group {value!r}"
                f"{did_you_mean(value, GROUPS[name])}; choose one of {', '.join(GROUPS[name])}"
            )
        return name, value
    value = spec.strip()  # a group nobody is in today is still a name (an empty audience)
    owners = [d for d in dimensions if value in GROUPS[d]]
    if len(owners) != 1:
        known = sorted({v for d in dimensions for v in GROUPS[d]})
        what = "is in several dimensions: write DIMENSION=VALUE" if owners else "is no segment"
        raise InputError(
            f"{option} {spec!r} {what}{'' if owners else did_you_mean(value, known)}; "
            f"segments: {', '.join(known)}; or {_OTHER.get(option, repr(ALL))}"
        )
    return owners[0], value


@dataclass(frozen=True)
class Resolved:
    """A file's rows resolved to customers: ``table`` has the file's columns, ``_line`` and
    ``customer_key`` (NULL when no customer has the identifier)."""

    table: str
    file: str
    rows: int
    unmatched: int
    column: str


def resolve(con: duckdb.DuckDBPyConnection, source: Any, *, phone_region: str) -> Resolved:
    """Read ``source`` (a file's path, or a data frame or Arrow table) and find the customer
    behind each row's identifier, in the engine."""
    raw = _read(con, source)
    try:
        column = _check(raw)
        keys = _key_sql(con, raw, column, phone_region)
        # A file's own customer_key column (what `experiment assign` writes) gives way to
        # the resolved key, which would otherwise be renamed and lost beside it.
        own = [ident(c) for c in raw.columns if c.lower() == "customer_key"]
        kept = f"r.* EXCLUDE ({', '.join(own)})" if own else "r.*"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {IDS} AS "
            f"SELECT {kept}, ({keys}) AS customer_key FROM {raw.table} r"
        )
    finally:
        discard(con, raw)
    unmatched = int(scalar(con, f"SELECT count(*) FROM {IDS} WHERE customer_key IS NULL"))
    return Resolved(IDS, raw.name, raw.rows, unmatched, column)


def _read(con: duckdb.DuckDBPyConnection, source: Any) -> RawSource:
    if not isinstance(source, str | Path):
        return read_frame(con, source, 90)
    file = as_path(source, "file")
    check_file(file)
    return read_file(con, file, detect_format(file, None), 90, encoding="utf-8")


IDS = "_experiment_ids"


def _check(raw: RawSource) -> str:
    """The identifier column of a file whose every line split into fields."""
    if raw.rejects:
        bad = raw.rejects[0]
        raise InputError(
            f"line {bad['line']} cannot be split into the header's fields ({bad['error_message']})",
            file=raw.name,
        )
    return _id_column(raw)


def _id_column(raw: RawSource) -> str:
    found = [c for c in raw.columns if c.strip().lower() in ID_COLUMNS]
    if not found:
        raise InputError(
            f"no identifier column: found {', '.join(c for c in raw.columns if c != '_line')}; "
            f"name one of {', '.join(ID_COLUMNS)}",
            file=raw.name,
        )
    return found[0]


def _key_sql(con: duckdb.DuckDBPyConnection, raw: RawSource, column: str, region: str) -> str:
    """A correlated lookup giving each row's customer key (first type that matches wins)."""
    kind = column.strip().lower()
    value = f"CAST(r.{ident(column)} AS VARCHAR)"
    if kind == "customer_key":  # a key merged away since is found too: the readout follows it
        return (
            "SELECT min(k) FROM (SELECT customer_key AS k FROM customers "
            "UNION ALL SELECT merged_key FROM customer_merges) "
            f"WHERE k = TRY_CAST(trim({value}) AS BIGINT)"
        )
    kinds = _TRY_ORDER if kind == "identifier" else (kind,)
    if "phone" in kinds:
        ensure_phone_cache(con, raw.table, ident(column), region)
    lookups = [_lookup(k, value) for k in kinds]
    return f"coalesce({', '.join(f'({q})' for q in lookups)})"


def _lookup(kind: str, value: str) -> str:
    if kind == "phone":
        candidate = phone_candidate_sql(value)
        normalized = f"(SELECT min(e164) FROM {PHONE_CACHE} WHERE candidate = {candidate})"
    else:
        normalized = identifier_sql(kind, value)
    return (
        f"SELECT min(i.customer_key) FROM identities i "
        f"WHERE i.identifier_type = '{kind}' AND i.value = {normalized}"
    )
