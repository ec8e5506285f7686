"""The canonical data contract: which source columns each table takes and how they are stored.

Every load maps a source file onto one of these tables. A field has a *kind* that decides how
its text is parsed and validated (see :mod:`patron.ingest.parse`), whether it is required, and
the SQL type it is stored as. Source columns that are not part of the contract are kept in the
row's ``attributes`` JSON column, so nothing in the file is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "identifier", "timestamp", "date", "money", "number", "bool"]

IDENTIFIER_TYPES: tuple[str, ...] = ("customer_id", "email", "phone", "loyalty_id")
"""Identifier columns any table may carry; each is normalized and fed to identity resolution."""

RETURN_STATUSES: tuple[str, ...] = ("returned", "return", "refunded", "refund")
"""Order statuses (case-insensitive) that make a row a return, whatever the sign of revenue."""

CANCELLED_STATUSES: tuple[str, ...] = ("cancelled", "canceled", "voided", "void", "failed")
"""Order statuses (case-insensitive) of orders that never became a sale (WooCommerce's
cancelled and failed, Magento's canceled, Shopify's voided payments): such a row is loaded and
kept like any other, but it is no purchase. A cancellation written as a negative row stays a
return, which undoes its purchase."""


def purchase_sql(alias: str = "") -> str:
    """SQL that is true for a purchase row of ``orders`` (aliased ``alias``): neither a return
    nor a cancelled order (:data:`CANCELLED_STATUSES`)."""
    column = f"{alias}." if alias else ""
    return f"NOT {column}is_return AND NOT {_cancelled_status(column)}"


def cancelled_sql(alias: str = "") -> str:
    """SQL that is true for a cancelled order of ``orders`` (aliased ``alias``): a cancelled
    status on a row that is no return (a negative cancellation row is a return)."""
    column = f"{alias}." if alias else ""
    return f"NOT {column}is_return AND {_cancelled_status(column)}"


def _cancelled_status(column: str) -> str:
    statuses = ", ".join(f"'{s}'" for s in CANCELLED_STATUSES)
    return f"coalesce(lower({column}status) IN ({statuses}), false)"


SQL_TYPES: dict[Kind, str] = {
    "text": "VARCHAR",
    "identifier": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "money": "DECIMAL(18,2)",
    "number": "DOUBLE",
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class Field:
    """One contract column: its name, parse kind, and whether a row without it is rejected."""

    name: str
    kind: Kind
    required: bool = False


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its fields, its key, and whether it carries customer identifiers.

    ``key`` names the fields that identify a row; when the source lacks them, a natural key is
    derived from the row's content (see :mod:`patron.ingest.stage`).
    ``on_conflict`` says what happens to a row whose key is loaded with different content:
    ``"quarantine"`` (facts such as orders never change) or ``"update"`` (catalog data such as
    products is replaced by the newer row). ``repeats``: rows of one source that share a
    natural key are separate records (a receipt's two lines of one item), numbered, not
    duplicates. ``renews``: a record seen again is the newest again (a CRM export whose
    consent went back to what an earlier export said), though stored once. ``keeps_records``:
    a value that does not parse is set aside in the quarantine and the rest of its row loads
    (a CRM record's fields stand apart: a mistyped birthday must not lose an opt-out); a row
    without a valid identifier is still refused whole. ``stamp``: the field that says when the
    source system last changed a record (a CRM's ``updated_at``); records are as late as it
    says, so a catch-up export of older records loaded last does not undo later ones. It is part
    of the natural key and the content hash when given and leaves both as they were without
    it, so files loaded before the field existed are still found again.
    """

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    natural_key: tuple[str, ...]
    on_conflict: Literal["quarantine", "update"] = "quarantine"
    has_identifiers: bool = False
    repeats: bool = False
    renews: bool = False
    keeps_records: bool = False
    stamp: str | None = None
    extra_sql_columns: tuple[tuple[str, str], ...] = field(default=())

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def get(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _identifiers() -> tuple[Field, ...]:
    return tuple(Field(name, "identifier") for name in IDENTIFIER_TYPES)


ORDERS = TableSpec(
    name="orders",
    fields=(
        Field("order_id", "text"),
        *_identifiers(),
        Field("ordered_at", "timestamp", required=True),
        Field("channel", "text"),
        Field("revenue", "money", required=True),
        Field("discount", "money"),
        Field("cost", "money"),
        Field("currency", "text"),
        Field("status", "text"),
        Field("return_of", "text"),
    ),
    key=("order_id",),
    natural_key=(*IDENTIFIER_TYPES, "ordered_at", "revenue"),
    has_identifiers=True,
    extra_sql_columns=(("order_date", "DATE"), ("is_return", "BOOLEAN")),
)

ORDER_LINES = TableSpec(
    name="order_lines",
    fields=(
        Field("order_id", "text", required=True),
        Field("line_id", "text"),
        Field("sku", "text", required=True),
        Field("quantity", "number"),
        Field("unit_price", "money"),
        Field("discount", "money"),
        Field("category", "text"),
        Field("brand", "text"),
    ),
    key=("order_id", "line_id"),
    natural_key=("order_id", "sku", "quantity", "unit_price"),
    repeats=True,
)

PRODUCTS = TableSpec(
    name="products",
    fields=(
        Field("sku", "text", required=True),
        Field("name", "text"),
        Field("category", "text"),
        Field("brand", "text"),
        Field("price", "money"),
        Field("launched_at", "date"),
        Field("in_stock", "bool"),
    ),
    key=("sku",),
    natural_key=("sku",),
    on_conflict="update",
)

CUSTOMER_RECORDS = TableSpec(
    name="customer_records",
    fields=(
        *_identifiers(),
        Field("name", "text"),
        Field("birthday", "date"),
        Field("signup_channel", "text"),
        Field("signed_up_at", "timestamp"),
        Field("country", "text"),
        Field("email_consent", "bool"),
        Field("sms_consent", "bool"),
        Field("push_consent", "bool"),
        Field("updated_at", "timestamp"),
    ),
    key=(),
    natural_key=(
        *IDENTIFIER_TYPES,
        "name",
        "birthday",
        "signup_channel",
        "signed_up_at",
        "country",
        "email_consent",
        "sms_consent",
        "push_consent",
    ),
    has_identifiers=True,
    renews=True,
    keeps_records=True,
    stamp="updated_at",
)

EVENTS = TableSpec(
    name="events",
    fields=(
        Field("event_id", "text"),
        *_identifiers(),
        Field("occurred_at", "timestamp", required=True),
        Field("type", "text", required=True),
        Field("campaign_id", "text"),
        Field("channel", "text"),
        Field("properties", "text"),
    ),
    key=("event_id",),
    natural_key=(*IDENTIFIER_TYPES, "occurred_at", "type", "campaign_id", "properties"),
    has_identifiers=True,
)

TABLES: dict[str, TableSpec] = {
    "orders": ORDERS,
    "lines": ORDER_LINES,
    "order_lines": ORDER_LINES,
    "products": PRODUCTS,
    "customers": CUSTOMER_RECORDS,
    "events": EVENTS,
}
"""Load targets by the name a user types: ``patron load orders|lines|products|customers|events``."""

KEYED_TABLES: tuple[str, ...] = tuple(
    dict.fromkeys(spec.name for spec in TABLES.values() if spec.has_identifiers)
)
"""Tables whose rows carry identifiers and so a ``customer_key``, which identity resolution
writes and rewrites (``orders``, ``customer_records``, ``events``)."""

LOAD_NAMES: dict[str, str] = {spec.name: target for target, spec in reversed(TABLES.items())}
"""Each table's name in ``patron load`` by its stored name (``order_lines`` is ``lines``), for
messages that tell the user what to type."""

SYNONYMS: dict[str, str] = {
    "id": "order_id",
    "order": "order_id",
    "order_number": "order_id",
    "customer": "customer_id",
    "customer_number": "customer_id",
    "client_id": "customer_id",
    "e_mail": "email",
    "email_address": "email",
    "mobile": "phone",
    "phone_number": "phone",
    "loyalty": "loyalty_id",
    "loyalty_number": "loyalty_id",
    "date": "ordered_at",
    "order_date": "ordered_at",
    "created_at": "ordered_at",
    "timestamp": "occurred_at",
    "amount": "revenue",
    "total": "revenue",
    "total_price": "revenue",
    "grand_total": "revenue",
    "price_paid": "revenue",
    "event_type": "type",
    "product_id": "sku",
    "qty": "quantity",
    "last_modified": "updated_at",
    "last_modified_date": "updated_at",
    "lastmodifieddate": "updated_at",
    "last_updated": "updated_at",
    "modified_at": "updated_at",
}
"""Common source header spellings that map onto contract fields without a ``--map``."""
