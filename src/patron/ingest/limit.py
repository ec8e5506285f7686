"""The most rows a load may quarantine before it is refused whole (``--max-quarantined``).

A load keeps the valid rows of a file and quarantines the rest, which suits a file with a few
bad rows. When a source system changes its export (dates in another layout, a renamed amount
column read as empty) every row fails, and a nightly ``patron load`` in cron still succeeded:
exit code 0, nothing new loaded, the quarantine filling up unread. With a limit, as warehouse
loaders have (BigQuery's ``max_bad_records``, Snowflake's ``ON_ERROR = SKIP_FILE_n%``), such a
load changes nothing, exits non-zero and says what failed most.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from patron.errors import InputError, option
from patron.ingest.stage import RECORD_KEPT
from patron.quarantined import Which, quarantine_summary

_SHARE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*%")


@dataclass(frozen=True)
class QuarantineLimit:
    """At most ``rows`` quarantined rows, or at most ``share`` (0-1) of the rows read."""

    text: str
    rows: int | None = None
    share: float | None = None

    @classmethod
    def parse(cls, value: int | str) -> QuarantineLimit:
        """``100`` (rows) or ``"2%"`` / ``"0.5 %"`` (of the rows read); anything else is an
        InputError naming the option."""
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return cls(f"{value:,}", rows=value)
        text = value.strip() if isinstance(value, str) else ""
        if text.isascii() and text.isdigit():
            return cls(f"{int(text):,}", rows=int(text))
        if (found := _SHARE.fullmatch(text)) and float(found[1]) <= 100:
            return cls(f"{float(found[1]):g}%", share=float(found[1]) / 100)
        raise InputError(
            f"{option('max_quarantined')} takes a number of rows (100) or a share of the rows "
            f"read (2%), not {value!r}"
        )

    def allows(self, quarantined: int, read: int) -> bool:
        if self.rows is not None:
            return quarantined <= self.rows
        return quarantined <= (self.share or 0.0) * read


def check(
    con: duckdb.DuckDBPyConnection,
    limit: QuarantineLimit | None,
    load_id: int,
    quarantined: int,
    read: int,
) -> None:
    """Refuse the load (an InputError, which rolls it back) when its ``quarantined`` rows of
    ``read`` pass ``limit``, naming the three commonest failures with a line of each."""
    if limit is None or limit.allows(quarantined, read):
        return
    reasons = quarantine_summary(con, Which(load=load_id))["reasons"]
    failed = [r for r in reasons if not r["reason"].endswith(RECORD_KEPT)]  # records that loaded
    causes = "; ".join(
        f"{r['field']} in {r['first_file']} ({r['rows']:,} row{'s' * (r['rows'] != 1)} from "
        f"line {r['first_line']}): {r['reason']}"
        for r in failed[:3]
    )
    raise InputError(
        f"{quarantined:,} of {read:,} rows failed validation, more than "
        f"{option('max_quarantined')} {limit.text} allows, so nothing was loaded; "
        + (f"most often: {causes}" if causes else "each was quarantined by an earlier load")
    )
