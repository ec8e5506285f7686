"""Map a source's columns onto a contract table's fields.

A column maps when ``--map SRC=DST`` says so, else when its normalized name (lower case, spaces
and punctuation as ``_``) is a field name, else when it is a common synonym (``amount`` ->
``revenue``). A field two columns map to the same way (``Order ID`` and ``order_id``, or
``Total`` and ``Amount``) is an error naming both. A column holding objects or lists maps
only by ``--map`` (or by its name to an event's ``properties``, which holds an object), and a
value inside a JSON object by its path (``--map customer.email=email``).
Columns that map to nothing are kept in ``attributes``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from patron.errors import InputError, did_you_mean, spelled
from patron.ingest.contract import IDENTIFIER_TYPES, LOAD_NAMES, SYNONYMS, TABLES, TableSpec

_OBJECT_FIELDS = ("properties",)
"""Fields that hold an object (an event's JSON properties): a column of objects maps to them
by its name, as to no other field."""


def normalize_name(name: str) -> str:
    """``' Order Date '`` -> ``'order_date'``; a UTF-8 byte-order mark is dropped."""
    return re.sub(r"[^0-9a-z]+", "_", name.lstrip("\ufeff").strip().lower()).strip("_")


def parse_map_options(items: list[str]) -> dict[str, str]:
    """``['Amount=revenue', ...]`` -> ``{'Amount': 'revenue'}``."""
    mapping: dict[str, str] = {}
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise InputError(f"--map {item!r} is not SRC=DST (for example --map Amount=revenue)")
        mapping[source.strip()] = target.strip()
    return mapping


def map_columns(
    columns: list[str],
    spec: TableSpec,
    explicit: Mapping[str, str],
    *,
    file: str,
    nested: tuple[str, ...] = (),
) -> tuple[dict[str, str], list[str]]:
    """Return ``({field: source column}, [unmapped source columns])`` or fail naming both sides.
    Columns in ``nested`` (objects, lists) map only when ``explicit`` names them."""
    fields = spec.field_names
    mapped: dict[str, str] = {}
    for source, target in explicit.items():
        if target not in fields:
            raise InputError(
                f"{map_hint(source, target)}: {target!r} is not a column of {spec.name}"
                f"{did_you_mean(target, fields)}; columns are {', '.join(fields)}",
                file=file,
            )
        if source not in columns:
            raise InputError(
                f"{map_hint(source, target)}: the file has no column {source!r}"
                f"{did_you_mean(source, columns)}; it has {', '.join(columns)}",
                file=file,
            )
        mapped[target] = source
    taken = set(mapped.values())
    scalars = [c for c in columns if c not in nested or normalize_name(c) in _OBJECT_FIELDS]
    for target, source in _by_name(scalars, spec, mapped, file).items():
        mapped[target] = source
        taken.add(source)
    _check_required(columns, spec, mapped, file, nested)
    _check_not_other(scalars, spec, mapped, file)
    return mapped, [c for c in columns if c not in taken]


def _by_name(
    columns: list[str], spec: TableSpec, explicit: dict[str, str], file: str
) -> dict[str, str]:
    """``{field: column}`` for the fields ``--map`` leaves open, from the other columns: a column
    whose normalized name is the field's, else one whose name is a synonym of it. Two columns
    of the same rank for one field fail the load naming both: which holds it is the user's
    call, never the file's column order."""
    fields = spec.field_names
    named: dict[str, list[str]] = {}
    synonyms: dict[str, list[str]] = {}
    for column in columns:
        if column in explicit.values():
            continue
        name = normalize_name(column)
        if name in fields:
            named.setdefault(name, []).append(column)
        elif SYNONYMS.get(name) in fields:
            synonyms.setdefault(SYNONYMS[name], []).append(column)
    found: dict[str, str] = {}
    for target in fields:
        candidates = named.get(target) or synonyms.get(target, [])
        if target in explicit or not candidates:
            continue
        if len(candidates) > 1:
            first, second = candidates[:2]
            raise InputError(
                f"columns {first!r} and {second!r} both map to {target}; choose one with "
                f"{map_hint(first, target)}; the other is kept in attributes",
                file=file,
            )
        found[target] = candidates[0]
    return found


def map_hint(source: str, target: str) -> str:
    """How to map column ``source`` onto field ``target``: ``--map 'Order ID=order_id'`` in a
    command, ``mapping={'Order ID': 'order_id'}`` from Python."""
    return spelled(
        f"--map {shlex.quote(f'{source}={target}')}", f"mapping={{{source!r}: {target!r}}}"
    )


def _check_required(
    columns: list[str], spec: TableSpec, mapped: dict[str, str], file: str, nested: tuple[str, ...]
) -> None:
    missing = [f.name for f in spec.fields if f.required and f.name not in mapped]
    needs_identifier = spec.has_identifiers and not any(t in mapped for t in IDENTIFIER_TYPES)
    if not missing and not needs_identifier:
        return
    needed = list(missing)
    if needs_identifier:
        needed.append("one of " + "/".join(IDENTIFIER_TYPES))
    example = missing[0] if missing else "email"
    holds = "holds" if len(nested) == 1 else "hold"
    key = "email" if needs_identifier else "KEY"  # a shop's nested buyer is the usual case
    inside = (
        f"; {', '.join(nested)} {holds} objects or lists: name a value inside one by its "
        f"path, as {map_hint(f'{nested[0]}.{key}', example)}"
        if nested
        else ""
    )
    raise InputError(
        f"the header does not map to {spec.name}: found columns {', '.join(columns) or '(none)'}; "
        f"needs {', '.join(needed)}. Rename them or pass {map_hint('SOURCE', example)}{inside}"
        f"{_other_hint(columns, spec, file)}",
        file=file,
    )


def _check_not_other(
    columns: list[str], spec: TableSpec, mapped: dict[str, str], file: str
) -> None:
    """Refuse a CRM load that maps identifiers alone from a file that is another table's (an
    orders export has an email, so it maps, and its orders would become CRM records)."""
    if spec.name != "customer_records" or any(f not in IDENTIFIER_TYPES for f in mapped):
        return
    if hint := _other_hint(columns, spec, file):
        raise InputError(
            f"no column maps to a CRM field (name, birthday, country, consent, sign-up){hint}",
            file=file,
        )


def _other_hint(columns: list[str], spec: TableSpec, file: str) -> str:
    """``; it looks like a file of orders (...): patron load orders FILE`` where the header has
    every field another table needs by name (its identifiers aside; of several such tables,
    the one needing most), else nothing."""
    names = {normalize_name(c) for c in columns}
    names |= {SYNONYMS[n] for n in names if n in SYNONYMS}
    fitting = [
        (LOAD_NAMES[other.name], needed)
        for other in TABLES.values()
        if other is not spec
        and (needed := {f.name for f in other.fields if f.required})
        and needed <= names
    ]
    if not fitting:
        return ""
    target, needed = max(fitting, key=lambda pair: len(pair[1]))
    load = spelled(f"patron load {target} {shlex.quote(file)}", f"ws.load({target!r}, ...)")
    return f"; it looks like a file of {target} ({', '.join(sorted(needed))}): {load}"
