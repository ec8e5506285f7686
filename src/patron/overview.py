"""The workspace at a glance: ``patron status``."""

from __future__ import annotations

from typing import Any

import duckdb

from patron.ingest.contract import cancelled_sql, purchase_sql
from patron.quarantined import open_count
from patron.sql import count, rows_as_dicts, tables

_PURCHASE = purchase_sql()
STATUS_SQL = f"""
SELECT
  (SELECT count(*) FROM customers) AS customers,
  (SELECT count(*) FROM orders WHERE {_PURCHASE}) AS orders,
  (SELECT coalesce(sum(revenue), 0) FROM orders WHERE {_PURCHASE}) AS revenue,
  (SELECT count(*) FROM orders WHERE is_return) AS returns,
  (SELECT count(*) FROM orders WHERE {cancelled_sql()}) AS cancelled_orders,
  (SELECT count(*) FROM orders WHERE customer_key IS NULL) AS unattributed_orders,
  (SELECT count(*) FROM order_lines) AS order_lines,
  (SELECT count(*) FROM order_lines l ANTI JOIN orders o USING (order_id)) AS lines_without_order,
  (SELECT count(*) FROM products) AS products,
  (SELECT count(*) FROM events) AS events,
  (SELECT count(*) FROM customer_records) AS customer_records,
  (SELECT count(*) FROM identities) AS identities,
  (SELECT count(*) FROM customer_merges WHERE into_key IS NOT NULL) AS merges,
  (SELECT count(*) FROM customer_merges WHERE into_key IS NULL) AS dissolved_customers,
  (SELECT count(*) FROM blocked_identifiers) AS blocked_identifiers,
  (SELECT count(*) FROM quarantine) AS quarantined,
  (SELECT coalesce(sum(duplicates), 0) FROM loads) AS duplicates,
  (SELECT count(*) FROM loads) AS loads,
  (SELECT min(ordered_at) FROM orders) AS first_order_at,
  (SELECT max(ordered_at) FROM orders) AS last_order_at,
  CASE WHEN EXISTS (SELECT 1 FROM orders WHERE {_PURCHASE} AND customer_key IS NOT NULL)
    THEN (SELECT max(order_date) FROM orders) END AS default_as_of
"""


def workspace_status(
    con: duckdb.DuckDBPyConnection, *, currency: str, timezone: str
) -> dict[str, Any]:
    """Counts of the workspace; ``orders`` and ``revenue`` are purchases: they exclude returns
    and the cancelled orders ``cancelled_orders`` counts
    (:data:`patron.ingest.contract.CANCELLED_STATUSES`).

    ``quarantined`` counts every row loads refused, ``quarantine_open`` those no later load
    brought in a row with their key and nobody closed (:mod:`patron.quarantined`).
    ``other_currencies`` counts purchases and returns per currency other than the workspace's:
    patron does not convert, so their amounts are added to the others as they are.
    ``lines_without_order`` counts order lines whose order is not loaded (yet): they belong to
    no customer, so no insight reads them until it is.
    ``identities_merged`` is the number of identifiers that resolved onto another identifier's
    customer: identities minus customers.
    ``merges`` counts customers merged into another; ``dissolved_customers`` those whose every
    identifier was blocked after they were created (their rows belong to no one: they are among
    ``unattributed_orders``); ``split_customers`` those split off a customer that a blocked
    identifier had united (:mod:`patron.identity.split`). ``last_load`` is the latest load
    (:func:`last_load`).
    ``first_order_at`` and ``last_order_at`` span every order row, returns and cancelled
    orders too: the data the metrics read. ``default_as_of`` is the shop-local day of the last
    one, what every command is as of without ``--as-of``
    (:func:`patron.metrics.occasions.last_order_date`); None before any purchase.
    """
    status = rows_as_dicts(con, STATUS_SQL)[0]
    status["currency"], status["timezone"] = currency, timezone
    status["identities_merged"] = status["identities"] - status["customers"]
    status["quarantine_open"] = open_count(con)
    splits = "customer_splits" in tables(con)  # a workspace made before splits, not loaded since
    status["split_customers"] = count(con, "SELECT count(*) FROM customer_splits") if splits else 0
    status["other_currencies"] = other_currencies(con, currency)
    status["last_load"] = last_load(con)
    status["blocked"] = rows_as_dicts(
        con,
        "SELECT identifier_type AS type, value, links FROM blocked_identifiers "
        "ORDER BY links DESC LIMIT 10",
    )
    return status


def last_load(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The latest load (None before any): its id, table, files, when it finished (UTC) and
    its counts, what a watcher of a nightly job checks first."""
    found = rows_as_dicts(
        con,
        "SELECT load_id, table_name AS table, string_split(files, chr(10)) AS files, "
        "finished_at, rows_read, inserted, updated, duplicates, quarantined, conflicts "
        "FROM loads ORDER BY load_id DESC LIMIT 1",
    )
    return found[0] if found else None


def other_currencies(
    con: duckdb.DuckDBPyConnection, currency: str, load_id: int | None = None
) -> dict[str, int]:
    """Purchases and returns per currency other than the workspace's ``currency`` (of one
    load when ``load_id`` is given), most first: money the metrics add up as if it were
    ``currency``. Returns count too, since their refunds are subtracted as if they were
    ``currency``; cancelled orders, which no figure reads, do not."""
    where = "" if load_id is None else f" AND load_id = {int(load_id)}"
    found = con.execute(
        f"SELECT currency, count(*) AS n FROM orders WHERE NOT ({cancelled_sql()}) "
        "AND currency <> ?"
        f"{where} GROUP BY currency ORDER BY n DESC, currency",
        [currency],
    ).fetchall()
    return {code: int(n) for code, n in found}
