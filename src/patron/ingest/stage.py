"""Build the staging table of one source: parsed contract columns, a key, a hash, an error.

The staging table ``_stage_<n>`` has one row per source row with its ``_line``, the contract's
stored columns (timestamps already in UTC), ``_key`` (the row's identity), ``_hash`` (its
content: 64 bits of the md5 of its fields, an integer that is cheaper to store and compare than
the hex text), and ``_err_field``/``_err_value``/``_err_reason`` for the first problem found, if
any. The source's number and file name are the same on every row, so the loader adds them
where it needs them instead of storing them a million times.

Keys: the table's key fields when the row has them (``order_id`` for orders), else a natural
key ``nk-<md5 of the natural-key fields>`` (for orders: identifiers, ``ordered_at`` and
``revenue``), so a file without ids still reloads idempotently and exact duplicate rows
collapse; :mod:`patron.ingest.classify` numbers lines that repeat one.
"""

from __future__ import annotations

from dataclasses import dataclass

from patron.config import CURRENCIES
from patron.identity.normalize import identifier_sql
from patron.identity.phones import phone_map
from patron.ingest.contract import IDENTIFIER_TYPES, RETURN_STATUSES, SQL_TYPES, TableSpec
from patron.ingest.parse import ParseOptions, reason_sql, text, value_sql
from patron.ingest.readers import RawSource
from patron.sql import ident, literal

RECORD_KEPT = " (the rest of the record loaded)"
"""How the reason of a value set aside from a row that loaded ends (``keeps_records``)."""
_SEP = "chr(31)"
_NULL = "chr(0)"


@dataclass(frozen=True)
class Column:
    """SQL for one contract field of one source: its stored value, trimmed text and error.

    ``reason`` refers to the parsed value by the field's name and to the text as ``_raw_<name>``,
    because it is evaluated one level above the parsing.
    """

    value: str
    raw: str
    reason: str


def stage_sql(
    spec: TableSpec,
    raw: RawSource,
    mapping: dict[str, str],
    extras: list[str],
    options: ParseOptions,
) -> str:
    """SELECT producing the staging table of ``raw``.

    Three levels, so no row is parsed twice: the inner one parses values, the middle one says
    why a value did not parse (only evaluated for those rows), the outer one picks the first
    error, derives columns, and computes the key and content hash.
    """
    columns = {f.name: _column(spec, f.name, raw, mapping, options) for f in spec.fields}
    if "currency" in columns:
        columns["currency"] = _currency(columns["currency"], options)
    checked = [name for name, c in columns.items() if c.reason != "NULL"]
    ids = [t for t in IDENTIFIER_TYPES if spec.has_identifiers and t in mapping]
    select = ["r._line"]
    select += [f"{c.value} AS {name}" for name, c in columns.items()]
    select += [f"{columns[name].raw} AS _raw_{name}" for name in [*checked, *ids]]
    select.append(f"{_extras(extras)} AS _extras")
    joins = ""
    if "phone" in mapping:
        phone = "r." + ident(mapping["phone"])
        joins = f" LEFT JOIN {phone_map(raw.table)} _ph ON _ph.value = {phone}"
    inner = f"SELECT {', '.join(select)} FROM {raw.table} r{joins}"
    whys = ", ".join(f"{columns[name].reason} AS _why_{name}" for name in checked)
    middle = f"SELECT *{', ' + whys if whys else ''} FROM ({inner})"
    aside = [name for name in checked if spec.keeps_records and not spec.get(name).required]
    if aside:  # the values set aside are not loaded, nor part of the row's content
        kept = ", ".join(
            f"CASE WHEN _why_{name} IS NULL THEN {name} END AS {name}" for name in aside
        )
        middle = f"SELECT * REPLACE ({kept}) FROM ({middle})"
    scratch = [f"_why_{name}" for name in checked] + [f"_raw_{name}" for name in [*checked, *ids]]
    derived = [f"{expr} AS {name}" for name, expr in _derived(spec, options).items()]
    refused = [name for name in checked if name not in aside]
    outer = [
        *derived,
        f"{_attributes(ids)} AS attributes",
        *_error_columns(refused, ids, spec.has_identifiers),
        *(_aside_columns(aside) if spec.keeps_records else []),
        f"{_key_sql(spec, mapping)} AS _key",
        f"{content_hash_sql(spec.field_names, spec.stamp)} AS _hash",
    ]
    exclude = ", ".join([*scratch, "_extras"])
    return f"SELECT * EXCLUDE ({exclude}), {', '.join(outer)} FROM ({middle})"


def _column(
    spec: TableSpec, name: str, raw: RawSource, mapping: dict[str, str], options: ParseOptions
) -> Column:
    field = spec.get(name)
    if name not in mapping:
        return Column(f"CAST(NULL AS {SQL_TYPES[field.kind]})", "NULL", "NULL")
    col = "r." + ident(mapping[name])
    source_type = raw.columns[mapping[name]]
    # Typed sources (Parquet, data frames) are only tested for NULL; text is for messages.
    raw_text = text(col, source_type) if source_type == "VARCHAR" else col
    if field.kind == "identifier":
        value = "_ph.e164" if name == "phone" else identifier_sql(name, col)
        return Column(value, raw_text, "NULL")
    value = value_sql(field.kind, col, source_type, options)
    reason = reason_sql(field.kind, f"_raw_{name}", name, source_type, options)
    if field.required:
        reason = f"coalesce(CASE WHEN _raw_{name} IS NULL THEN 'missing value' END, {reason})"
    return Column(value, raw_text, reason)


def _currency(c: Column, options: ParseOptions) -> Column:
    """A currency code upper-cased, the workspace's where missing (the amount is in it); a
    code ISO 4217 does not list (:data:`patron.config.CURRENCIES`) is a typo that would put
    the row's amounts apart from the rest, so its row goes to quarantine, naming the codes one
    typo away."""
    codes = f"[{', '.join(map(literal, sorted(CURRENCIES)))}]"
    near = f"list_filter({codes}, lambda k: damerau_levenshtein(k, currency) = 1)"
    hint = f"coalesce(' (did you mean ' || nullif(array_to_string({near}, ' or '), '') || '?)', '')"
    reason = (
        f"CASE WHEN NOT list_contains({codes}, currency) THEN "
        f"'unknown currency ' || currency || ', not an ISO 4217 code' || {hint} END"
    )
    return Column(f"coalesce(upper({c.value}), {literal(options.currency)})", c.raw, reason)


def _derived(spec: TableSpec, options: ParseOptions) -> dict[str, str]:
    """Columns computed from the contract fields: for orders the shop-local day and returns."""
    if spec.name != "orders":
        return {}
    local = (
        "ordered_at"
        if options.timezone == "UTC"
        else f"timezone('{options.timezone}', timezone('UTC', ordered_at))"
    )
    statuses = ", ".join(f"'{s}'" for s in RETURN_STATUSES)
    return {
        "order_date": f"CAST({local} AS DATE)",
        "is_return": "coalesce(revenue < 0, false) "
        f"OR coalesce(lower(status) IN ({statuses}), false)",
    }


def _extras(extras: list[str]) -> str:
    """Source columns outside the contract, kept as JSON so nothing in the file is lost."""
    pairs = ", ".join(f"{literal(c)}, r.{ident(c)}" for c in extras)
    return f"json_object({pairs})" if extras else "CAST(NULL AS JSON)"


def _attributes(ids: list[str]) -> str:
    """The extras plus identifiers that did not normalize (``invalid_phone``), as JSON."""
    if not ids:
        return "_extras"
    invalid = ", ".join(f"'invalid_{t}', CASE WHEN {t} IS NULL THEN _raw_{t} END" for t in ids)
    any_invalid = " OR ".join(f"({t} IS NULL AND _raw_{t} IS NOT NULL)" for t in ids)
    merged = f"json_merge_patch(coalesce(_extras, json_object()), json_object({invalid}))"
    return f"CASE WHEN {any_invalid} THEN {merged} ELSE _extras END"


def _error_columns(checked: list[str], ids: list[str], has_identifiers: bool) -> list[str]:
    """The first failing check of the row: its field, raw value and reason."""
    checks = [(name, f"_why_{name}", f"_raw_{name}") for name in checked]
    if has_identifiers:  # the value shown is the first identifier given, which did not normalize
        given = ", ".join(f"CAST(_raw_{t} AS VARCHAR)" for t in ids)
        checks.append(
            (
                "customer identifier",
                _identifier_reason(ids),
                f"coalesce({given})" if ids else "NULL",
            )
        )
    if not checks:
        return ["NULL AS _err_field", "NULL AS _err_value", "NULL AS _err_reason"]
    field = " ".join(f"WHEN {why} IS NOT NULL THEN {literal(name)}" for name, why, _ in checks)
    value = " ".join(
        f"WHEN {why} IS NOT NULL THEN CAST({raw} AS VARCHAR)" for _, why, raw in checks
    )
    reason = " ".join(f"WHEN {why} IS NOT NULL THEN {why}" for _, why, _ in checks)
    return [
        f"CASE {field} END AS _err_field",
        f"CASE {value} END AS _err_value",
        f"CASE {reason} END AS _err_reason",
    ]


def _aside_columns(aside: list[str]) -> list[str]:
    """The values of a kept row that did not parse: their fields, raw values and reasons, each
    reason named by its field; NULL where every value parsed."""
    if not aside:
        return ["NULL AS _aside_field", "NULL AS _aside_value", "NULL AS _aside_reason"]

    def listed(sql: dict[str, str], separator: str) -> str:
        cases = [f"CASE WHEN _why_{name} IS NOT NULL THEN {e} END" for name, e in sql.items()]
        return f"nullif(concat_ws({literal(separator)}, {', '.join(cases)}), '')"

    named = listed({n: f"{literal(n + ': ')} || _why_{n}" for n in aside}, "; ")
    several = " + ".join(f"CAST(_why_{n} IS NOT NULL AS INTEGER)" for n in aside)
    alone = listed({n: f"_why_{n}" for n in aside}, "")
    reasons = f"CASE WHEN {several} > 1 THEN {named} ELSE {alone} END"
    return [
        f"{listed({n: literal(n) for n in aside}, ', ')} AS _aside_field",
        f"{listed({n: f'CAST(_raw_{n} AS VARCHAR)' for n in aside}, ', ')} AS _aside_value",
        f"{reasons} || {literal(RECORD_KEPT)} AS _aside_reason",
    ]


def _identifier_reason(ids: list[str]) -> str:
    """A row needs one identifier that normalizes; say so when none was given or none is valid."""
    names = "/".join(IDENTIFIER_TYPES)
    if not ids:
        return f"'missing customer identifier: needs one of {names}'"
    given = " OR ".join(f"_raw_{t} IS NOT NULL" for t in ids)
    valid = " OR ".join(f"{t} IS NOT NULL" for t in ids)
    return (
        f"(CASE WHEN NOT ({given}) THEN 'missing customer identifier: needs one of {names}' "
        f"WHEN NOT ({valid}) THEN 'no valid customer identifier (invalid email or phone)' END)"
    )


def _key_sql(spec: TableSpec, mapping: dict[str, str]) -> str:
    natural = f"'nk-' || md5({_content_sql(spec.natural_key, spec.stamp)})"
    if not spec.key or not all(k in mapping for k in spec.key):
        if spec.key and spec.key[0] in mapping and len(spec.key) > 1:
            return f"{spec.key[0]} || '/' || {natural}"
        return natural
    present = " AND ".join(f"{k} IS NOT NULL" for k in spec.key)
    joined = spec.key[0] if len(spec.key) == 1 else f"concat_ws('/', {', '.join(spec.key)})"
    return f"CASE WHEN {present} THEN {joined} ELSE {natural} END"


def content_hash_sql(names: tuple[str, ...], stamp: str | None = None) -> str:
    """64 bits of the md5 of the fields' text: ``md5_number_lower``'s value, which DuckDB
    computes three times slower than this shift of the whole 128-bit number."""
    kept = tuple(name for name in names if name != stamp)
    return f"CAST(md5_number({_content_sql(kept, stamp)}) >> 64 AS UBIGINT)"


def _content_sql(names: tuple[str, ...], stamp: str | None = None) -> str:
    """The fields as one text (NULL spelled apart from ''), to hash into a key or a content
    fingerprint; then the ``stamp`` field where it is given (``concat_ws`` skips a NULL), so
    a row without one hashes as it did before the table had the field."""
    parts = [f"coalesce(CAST({n} AS VARCHAR), {_NULL})" for n in names]
    parts += [f"CAST({stamp} AS VARCHAR)"] if stamp else []
    return f"concat_ws({_SEP}, {', '.join(parts)})"
