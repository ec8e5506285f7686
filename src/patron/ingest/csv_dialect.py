"""How a CSV file is written (delimiter, quoting, header), as DuckDB's sniffer finds it.

DuckDB's reader sniffs the dialect from a sample; two kinds of file defeat it. In a CRLF file
with a bare LF inside a quoted field that is also broken (``"multi\\nline"@x.com``, a quote
closed mid-field) it finds no dialect and the read fails ("Error when sniffing file"); and in a
file where one field breaks quoting's rules it reads the whole file without quoting, so a
well-quoted field spanning lines falls apart. For those a lenient sniff (``strict_mode =
false``) finds the delimiter and the header's names, and the file is read with RFC 4180
quoting (``"`` quotes, ``""`` inside), strictly: a record that breaks it is rejected whole.

Sniffing runs on its own cursor: a failed statement would abort the load's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from patron.sql import literal, out_of_room

_NONE = "(empty)"
"""How ``sniff_csv`` spells an option it found unused (no quoting, no comments)."""


@dataclass(frozen=True)
class Dialect:
    """A CSV dialect with the header's names, as ``read_csv`` options that sniff nothing."""

    delim: str
    quote: str
    escape: str
    skip: int
    comment: str
    names: tuple[str, ...]

    @property
    def options(self) -> str:
        return self.with_columns({name: "VARCHAR" for name in self.names})

    def with_columns(self, columns: dict[str, str]) -> str:
        """The options with ``columns`` (name: type) for the header's."""
        declared = ", ".join(f"{literal(name)}: {literal(kind)}" for name, kind in columns.items())
        return (
            f"auto_detect = false, delim = {literal(self.delim)}, quote = {literal(self.quote)}, "
            f"escape = {literal(self.escape)}, skip = {self.skip}, "
            f"comment = {literal(self.comment)}, columns = {{{declared}}}"
        )


def sniff(
    con: duckdb.DuckDBPyConnection, data: Path, encoding: str, *, strict: bool = True, **fixed: str
) -> Dialect | None:
    """The dialect DuckDB's sniffer finds in ``data`` (as the read would, unless not ``strict``;
    with the ``fixed`` options set), or None when it finds none."""
    options = ["header = true", "all_varchar = true", "ignore_errors = true"]
    options += [f"encoding = {literal(encoding)}", f"strict_mode = {str(strict).lower()}"]
    options += [f"{name} = {literal(value)}" for name, value in fixed.items()]
    sql = (
        "SELECT Delimiter, Quote, Escape, SkipRows, Comment, Columns "
        f"FROM sniff_csv({literal(str(data))}, {', '.join(options)})"
    )
    with con.cursor() as cursor:
        try:
            delim, quote, escape, skip, comment, columns = cursor.execute(sql).fetchall()[0]
        except duckdb.Error as exc:
            if out_of_room(exc):
                raise
            return None
    return Dialect(
        delim=delim,
        quote=_used(quote),
        escape=_used(escape),
        skip=int(skip),
        comment=_used(comment),
        names=tuple(column["name"] for column in columns),
    )


def quoted(
    con: duckdb.DuckDBPyConnection, data: Path, encoding: str, *, delim: str | None = None
) -> Dialect | None:
    """``data``'s dialect with RFC 4180 quoting, its delimiter ``delim`` or the one a lenient
    sniff finds; None when even that finds none."""
    if delim is None:
        lenient = sniff(con, data, encoding, strict=False)
        if lenient is None:
            return None
        delim = lenient.delim
    return sniff(con, data, encoding, strict=False, delim=delim, quote='"', escape='"')


def _used(option: str) -> str:
    return "" if option == _NONE else option
