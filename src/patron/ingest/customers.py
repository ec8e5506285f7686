"""Rebuild the derived ``customers`` table: one row per resolved person.

Identifiers come from ``identities`` (the first seen of each type); profile fields come from the
person's CRM records in ``customer_records``: the latest non-empty value for name, birthday,
country and consent, and the earliest sign-up for ``signup_channel``/``signed_up_at``. A record
is as late as its ``updated_at`` (when the CRM last changed it), or without one as its load's
time; then as its load, its file's place in that load, and its line. A record without a stamp
that a later export brings again exactly is made as late as that sighting
(:func:`renew_records`), so one load of several files, or the files one load each, end alike;
with stamps, a catch-up export of older records loaded last leaves the later ones standing.
A channel's consent is overruled by the person's latest ``<channel>_unsubscribe`` or
``<channel>_subscribe`` event: an email tool reads ``email_consent`` from patron's exports, and
a CRM record that still says yes after someone unsubscribed must not send them mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import duckdb

from patron.ingest.contract import IDENTIFIER_TYPES
from patron.sql import literal, rows_as_dicts

_SEEN_FIRST = "strftime(first_seen, '%Y%m%d%H%M%S%f') || value"
"""An identifier's value behind its first-seen time as 20 fixed-width digits (years 0-9999; a
load refuses later dates), so the smallest string is the first seen identifier, the smallest
value among those seen at the same instant. It orders like the pair (first_seen, value) but
its min is 2x cheaper than ``arg_min`` over that pair at two million customers."""

_CONSENTS = ("email", "sms", "push")
_LATEST = ("name", "birthday", "country", *(f"{c}_consent" for c in _CONSENTS))


IDENTIFIERS_PER_PASS = 2_000_000
"""A whole rebuild groups at most about this many identifiers at a time (a range of customer
keys each), so that a pass fits in the default 1 GB memory limit instead of spilling: in a load
of 10M orders, 5.2M identifiers took 3.1 s in three passes, 3.8-4.8 s in one."""


class Load(NamedTuple):
    """A load not logged in ``loads`` yet: its id, its sources' names in order, and its time
    (UTC, as ``loads.started_at`` will keep it)."""

    load_id: int
    files: Sequence[str]
    at: datetime


def _file_places(current: Load | None) -> str:
    """SQL relation (load_id, loaded_at, source_file, file_no): each CRM file's load time and
    place in its load, from ``loads`` and the ``current`` load (one under way, not logged
    yet). Names are unique within a load (the loader numbers a repeated one)."""
    logged = (
        "SELECT load_id, started_at, string_split(files, chr(10)) AS f FROM loads "
        "WHERE table_name = 'customer_records'"
    )
    if current is not None:
        names = ", ".join(map(literal, current.files))
        logged += (
            f" AND load_id <> {current.load_id} "
            f"UNION ALL SELECT {current.load_id}, {_timestamp(current.at)}, [{names}]"
        )
    return (
        "SELECT load_id, started_at AS loaded_at, unnest(f) AS source_file, "
        f"unnest(range(len(f))) AS file_no FROM ({logged})"
    )


def _records(current: Load | None) -> str:
    """``customer_records`` with ``_at``, each record's place in time: its ``updated_at`` or
    else its load's time, then its load, file and line."""
    return (
        f"SELECT r.*, ({_time('r.updated_at', 'f.loaded_at')}, r.load_id, "
        "coalesce(f.file_no, 0), r.source_row) AS _at "
        f"FROM customer_records r LEFT JOIN ({_file_places(current)}) f "
        "USING (load_id, source_file)"
    )


def _time(stamp: str, loaded: str) -> str:
    """A record's time: its stamp, else its load's (a record whose load is not logged, from
    before patron logged CRM files, is older than any)."""
    return f"coalesce({stamp}, {loaded}, TIMESTAMP '-infinity')"


def _timestamp(at: datetime) -> str:
    return f"TIMESTAMP '{at.isoformat(sep=' ')}'"


def renew_records(con: duckdb.DuckDBPyConnection, current: Load) -> str:
    """Place the CRM records the ``current`` load found again (``_classified``'s latest
    sighting of a stored key, a duplicate) where the load saw them, when their stored place
    would put them out of the load's order; mark those ``renewed`` there. A consent given,
    revoked and given again is given: the third export repeats the first, which a record
    stored once would leave behind the second. Returns a table of the renewed records'
    customer keys (``_renewed``).

    Per person, in the load's order, a sighted record keeps its stored place while that
    place is after every record of the person the load did not see and every record the
    load placed before it; from the first one that is not (or a new record), every later
    sighting takes its place in this load. Loading the same export again renews nothing.
    """
    load_id, files, at = current
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _renewed AS
        WITH seen AS (SELECT _key AS row_key, _src, _line FROM _classified
          WHERE _action = 'duplicate' AND _seq = 1),
        records AS (SELECT r.row_key, r.customer_key, r._at, s._src, s._line,
            CASE WHEN s.row_key IS NOT NULL
              THEN ({_time("r.updated_at", _timestamp(at))}, {load_id}, s._src, s._line)
                 WHEN r.load_id = {load_id} THEN r._at END AS _now
          FROM ({_records(current)}) r LEFT JOIN seen s USING (row_key)
          WHERE r.customer_key IN (SELECT customer_key FROM customer_records
            WHERE row_key IN (SELECT row_key FROM seen))),
        placed AS (SELECT *, _src IS NOT NULL AND ((_at > greatest(
              max(_at) FILTER (WHERE _now IS NULL) OVER (PARTITION BY customer_key),
              max(_at) FILTER (WHERE _src IS NOT NULL) OVER earlier)) IS NOT FALSE) AS _keeps
          FROM records
          WINDOW earlier AS (PARTITION BY customer_key ORDER BY _now
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)),
        kept AS (SELECT *, bool_and(_keeps) OVER (PARTITION BY customer_key ORDER BY _now
            ROWS UNBOUNDED PRECEDING) AS _stays FROM placed WHERE _now IS NOT NULL)
        SELECT row_key AS _key, _src, _line, customer_key FROM kept
        WHERE _src IS NOT NULL AND NOT _stays"""
    )
    names = f"[{', '.join(map(literal, files))}]"
    con.execute(
        f"""UPDATE customer_records r SET load_id = {load_id},
          source_file = {names}[n._src + 1], source_row = n._line
        FROM _renewed n WHERE r.row_key = n._key"""
    )
    con.execute(
        "UPDATE _classified SET _action = 'renewed' WHERE _seq = 1 AND _action = 'duplicate' "
        "AND _key IN (SELECT _key FROM _renewed)"
    )
    return "_renewed"


def rebuild_customers(
    con: duckdb.DuckDBPyConnection, touched: str | None = None, *, current: Load | None = None
) -> None:
    """Replace ``customers`` from ``identities`` and ``customer_records``: every customer (in
    ranges of keys, ascending), or only the customers in table ``touched`` (column
    customer_key), each a function of their own identifiers and records alone. ``current``
    is the load under way, if any."""
    if touched is not None:
        only = f" AND customer_key IN (SELECT customer_key FROM {touched})"
        con.execute(f"DELETE FROM customers WHERE true{only}")
        _insert(con, only, current)
        return
    con.execute("DELETE FROM customers")
    low, high, rows = con.execute(
        "SELECT min(customer_key), max(customer_key), count(*) FROM identities"
    ).fetchall()[0]
    if not rows:
        return
    step = -(-(high - low + 1) * IDENTIFIERS_PER_PASS // rows)
    for start in range(low, high + 1, step):
        _insert(con, f" AND customer_key BETWEEN {start} AND {start + step - 1}", current)


def _insert(con: duckdb.DuckDBPyConnection, only: str, current: Load | None) -> None:
    """Add the customers that the condition ``only`` (`` AND ...`` on customer_key) picks."""
    first = ", ".join(
        f"substr(min({_SEEN_FIRST}) FILTER (WHERE identifier_type = '{t}'), 21) AS {t}"
        for t in IDENTIFIER_TYPES
    )
    latest = ", ".join(f"arg_max({c}, _at) FILTER (WHERE {c} IS NOT NULL) AS {c}" for c in _LATEST)
    overruled = ", ".join(f"coalesce(_{c}_opted, {c}_consent) AS {c}_consent" for c in _CONSENTS)
    hidden = ", ".join(f"_{c}_opted" for c in _CONSENTS)
    con.execute(
        f"""INSERT INTO customers BY NAME
        WITH ids AS (
          SELECT customer_key, {first}, count(*) AS identifiers, min(first_seen) AS first_seen
          FROM identities WHERE true{only} GROUP BY customer_key),
        profile AS (
          SELECT customer_key, {latest},
            arg_min(signup_channel, coalesce(signed_up_at, TIMESTAMP '9999-12-31'))
              FILTER (WHERE signup_channel IS NOT NULL) AS signup_channel,
            min(signed_up_at) AS signed_up_at
          FROM ({_records(current)}) WHERE customer_key IS NOT NULL{only}
          GROUP BY customer_key),
        opted AS ({_opted(only)})
        SELECT * EXCLUDE ({hidden}) REPLACE ({overruled})
        FROM ids LEFT JOIN profile USING (customer_key) LEFT JOIN opted USING (customer_key)
        ORDER BY customer_key"""
    )


_KIND = (
    "regexp_replace(trim(regexp_replace(lower(type), '[^a-z0-9]+', '_', 'g'), '_'), "
    "'(subscribe)d$', '\\1')"
)
"""An event's type as a consent verdict is looked for in it: lower case, words joined by ``_``,
and ``subscribed`` read as ``subscribe`` (``Email Unsubscribed`` is ``email_unsubscribe``)."""


def _opted(only: str) -> str:
    """Per customer and channel, whether their latest (un)subscribe event subscribed them
    (NULL without one). Of two at the same instant the unsubscribe wins."""
    verdicts = ", ".join(
        f"arg_max(kind = '{c}_subscribe', {_latest(c)}) "
        f"FILTER (WHERE kind IN ('{c}_subscribe', '{c}_unsubscribe')) AS _{c}_opted"
        for c in _CONSENTS
    )
    return f"SELECT customer_key, {verdicts} FROM ({_consent_events(only)}) GROUP BY customer_key"


def _latest(channel: str) -> str:
    """What makes one of ``channel``'s (un)subscribe events later than another: its time, and
    at the same instant the unsubscribe."""
    return f"(occurred_at, kind = '{channel}_unsubscribe')"


def _consent_events(only: str) -> str:
    """The (un)subscribe events of the customers ``only`` picks, each with its verdict as
    ``kind`` (``email_unsubscribe``, ...). Types are read as email tools export them
    (:data:`_KIND`; a bare ``unsubscribe`` is its ``channel``'s), as an opt-out must never be
    missed for its spelling."""
    types = ", ".join(f"'{c}_{way}'" for c in _CONSENTS for way in ("subscribe", "unsubscribe"))
    channel = "regexp_replace(lower(channel), '[^a-z0-9]', '', 'g')"  # E-mail is email
    bare = f"CASE WHEN {_KIND} IN ('subscribe', 'unsubscribe') THEN {channel} || '_' END"
    kinds = (
        f"SELECT customer_key, occurred_at, coalesce({bare}, '') || {_KIND} AS kind, type, "
        "source_file, source_row FROM events "
        f"WHERE customer_key IS NOT NULL AND contains(lower(type), 'subscri'){only}"
    )
    return f"SELECT * FROM ({kinds}) WHERE kind IN ({types})"


Source = dict[str, Any] | None
"""What decided a consent (:func:`consent_sources`), or None."""


def consent_sources(con: duckdb.DuckDBPyConnection, key: int) -> dict[str, Source]:
    """Per channel, what decided customer ``key``'s consent in ``customers``, by the rules
    above: their latest (un)subscribe event, else their latest CRM record that gives one
    (None: nothing does). Each as its kind (``event`` with its type, or ``record``), its time
    (the event's, or the record's ``updated_at`` or else its load's), file and line: the
    answer to "why do we (not) mail this person?"."""
    only = f" AND customer_key = {int(key)}"
    return {c: _deciding_event(con, c, only) or _deciding_record(con, c, only) for c in _CONSENTS}


def _deciding_event(con: duckdb.DuckDBPyConnection, channel: str, only: str) -> Source:
    """The latest (un)subscribe event (:func:`_latest`) for ``channel`` of the customer ``only``
    picks, the one :func:`_opted` reads its verdict from."""
    found = rows_as_dicts(
        con,
        "SELECT 'event' AS kind, type, occurred_at AS at, source_file AS file, "
        f"source_row AS line FROM ({_consent_events(only)}) "
        f"WHERE kind IN ('{channel}_subscribe', '{channel}_unsubscribe') "
        f"ORDER BY {_latest(channel)} DESC LIMIT 1",
    )
    return found[0] if found else None


def _deciding_record(con: duckdb.DuckDBPyConnection, channel: str, only: str) -> Source:
    """The latest CRM record (by ``_at``) of the customer ``only`` picks that gives a consent
    for ``channel``."""
    found = rows_as_dicts(
        con,
        "SELECT 'record' AS kind, NULL AS type, struct_extract(_at, 1) AS at, "
        f"source_file AS file, source_row AS line FROM ({_records(None)}) "
        f"WHERE {channel}_consent IS NOT NULL{only} ORDER BY _at DESC LIMIT 1",
    )
    return found[0] if found else None
