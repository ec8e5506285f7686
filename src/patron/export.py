"""One row per customer for an email tool: identifiers, consent, totals, segments, insights.

Customers without a purchase by the as-of day (CRM records or events only) are kept, with
stage ``prospect`` and empty purchase fields, so consent-based campaigns can reach them; buyers
the shop first met after that day are not (:func:`known_by`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from patron.errors import InputError
from patron.money import decimals
from patron.outfile import check_writable, write_whole

if TYPE_CHECKING:
    from ibis import Table

FORMATS = (".parquet", ".csv")
PROFILE_COLUMNS = (
    "customer_key",
    "customer_id",
    "email",
    "phone",
    "loyalty_id",
    "name",
    "birthday",
    "country",
    "email_consent",
    "sms_consent",
    "push_consent",
)
MONEY = ("clv", "clv_low", "clv_high")
"""Predicted money (:mod:`patron.predictions`), written in the currency's decimals."""


def customer_table(customers: Table, segments: Table, *extras: Table, currency: str) -> Table:
    """Profiles left-joined to segments and any per-customer ``extras`` (e.g. the insights'
    fields): every known person, one row each. A column two parts share comes from the later
    one (the insights' ``next_purchase_date`` resolves the model's and the empirical rule).
    Predicted CLV is in ``currency``'s decimals (cents; none for a yen, mills for a dinar), as
    an email tool shows money."""
    joined = customers.select(*PROFILE_COLUMNS)
    for table in (segments, *extras):
        shared = (set(joined.columns) & set(table.columns)) - {"customer_key"}
        joined = joined.drop(*shared).left_join(table, "customer_key").drop("customer_key_right")
    joined = in_currency(joined, [name for name in MONEY if name in joined.columns], currency)
    return joined.mutate(stage=joined.stage.fill_null("prospect")).order_by("customer_key")


def in_currency(table: Table, names: Iterable[str], currency: str) -> Table:
    """``table`` with its money columns ``names`` rounded to ``currency``'s decimals
    (:func:`patron.money.decimals`), as a file for an email tool or a spreadsheet shows money:
    a mean spend of 74.35166666666667 dollars is 74.35, a yen's CLV whole. They stay float64
    in every currency (Ibis makes a whole-number round an integer), so a Parquet file's schema
    does not depend on the workspace's currency."""
    digits = decimals(currency)
    return table.mutate(**{name: table[name].round(digits).cast("float64") for name in names})


def known_by(customers: Table, occasions: Table, day: date, end: datetime) -> Table:
    """``customers`` the shop knew by the end of ``day`` (``end``: that moment as stored, UTC).

    Left out are the buyers whose first purchase came after ``day`` and whom no earlier record
    shows (``first_seen``: their earliest order, event or sign-up), so an export as of a past
    day lists who was there then. People who never bought all stay: an undated CRM record is
    stamped with its load's time, which says nothing of when the person signed up.
    """
    later = occasions.filter((occasions.n == 0) & (occasions.order_date > day))
    unseen = customers.filter(customers.first_seen >= end).semi_join(later, "customer_key")
    return customers.anti_join(unseen, "customer_key")


def check_out(out: Path) -> None:
    """Refuse a file name :func:`write_table` cannot write; a command checks it before its
    work, so a bad name never costs a run (or, for ``predict``, its stored predictions)."""
    if out.suffix.lower() not in FORMATS:
        raise InputError(f"cannot write {out}: use a .parquet or .csv file name")


def check_target(out: Path) -> None:
    """:func:`check_out`, and where the file goes (:func:`patron.outfile.check_writable`): for
    a command whose work is long or changes something before it writes, as ``patron predict
    --out blocked/p.csv`` replaced the stored predictions and then failed on the folder."""
    check_out(out)
    check_writable(out)


def write_table(table: Table, out: Path) -> None:
    """Write ``table`` as Parquet or CSV by ``out``'s suffix, whole or not at all
    (:func:`patron.outfile.write_whole`)."""
    check_out(out)
    write_whole(out, partial(_write, table))


def _write(table: Table, out: Path) -> None:
    if out.suffix.lower() == ".parquet":
        table.to_parquet(out)
    else:
        from patron.portable import to_csv  # the engine loads when a command runs

        to_csv(table, out)  # as DuckDB writes CSV, whatever the warehouse
