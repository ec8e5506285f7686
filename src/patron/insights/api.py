"""The insights of a workspace, as the CLI, the report and notebooks ask for them.

``Workspace.insights`` is an :class:`Insights`: each method answers one question of issue 6 for
the whole base or one segment (``segment="stage=defecting"``, ``"Champions"``; the syntax of
:func:`patron.experiments.audience.segment_audience`), as of a day (default: the last purchase
day). Summaries come back as JSON-ready dicts; per-customer answers as Ibis tables, so a notebook
can join them and the CLI can write them to a file without pulling them into Python.
The definitions live in the modules that compute them (timing, affinity, discount).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis

from patron.arguments import DateLike, as_names, as_real, as_whole, optional_day, reads
from patron.defaults import RECENT_DAYS, K
from patron.errors import InputError, option
from patron.experiments.audience import segment_audience
from patron.export import in_currency
from patron.insights import (
    affinity,
    backtest,
    channels,
    discount,
    ideal,
    offers,
    recommend,
    replenishment,
    timing,
)
from patron.insights.affinity import Baskets
from patron.insights.discount import Lift
from patron.money import PLACES

if TYPE_CHECKING:
    from ibis import Table

    from patron.workspace import Workspace

DISCOUNT_DIMENSION = "rfm_segment"
_TIMING_FIELDS = ("customer_key", "next_purchase_date", "next_purchase_basis", "next_contact_date")
_DISCOUNT_FIELDS = ("customer_key", "discount_score", "discount_band")
_AFFINITY_FIELDS = ("customer_key", "top_categories")
RECOMMENDED = 3
"""Products named per customer in the export's ``recommended_items``."""
AOVS = {"full_price_aov": 6, "discounted_aov": 6}
SUMS = {"revenue": PLACES, "refunds": PLACES}
"""Money of a discount and an experience row, and its places: the engine adds money as
float64, so a sum of cents reads 1582.0799999999997 and an average 20.549999999999997. A sum
of booked amounts is whole cents (or mills, :mod:`patron.money`); a group's average keeps six
places, as every other one. One customer's averages, in a file for a spreadsheet, are money
as it is written: in the currency's decimals (:meth:`Insights.customer_discounts`)."""


class Insights:
    """Issue 6's insights over one workspace (see the module docstring)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._temps: list[str] = []
        self._numbers = itertools.count(1)  # never reused: a dropped name's successor is new

    def baskets(self) -> Baskets:
        """Orders, occasions, order lines and the catalog, as the basket insights read them."""
        return Baskets(self._ws.sales(), self._ws.table("order_lines"), self._ws.table("products"))

    def members(self, segment: str | None, *, as_of: DateLike | None = None) -> Table | None:
        """The customer keys of ``segment`` (None: everyone, no filter)."""
        if segment is None:
            return None
        if not isinstance(segment, str):  # one group; several would need a union of them
            kind = type(segment).__name__
            raise InputError(
                f"segment must be one group as text ('Champions', 'stage=defecting'), not {kind}"
            )
        ws = self._ws
        segments = ws.segments(as_of=ws.as_of(as_of))
        return segment_audience(segments, ws.table("customers"), segment, option="--segment")

    def timing(
        self, *, segment: str | None = None, as_of: DateLike | None = None
    ) -> dict[str, Any]:
        """Gaps between purchases by purchase number, the nudge window and the hazard drop."""
        day = self._ws.as_of(as_of)
        customers = self.members(segment, as_of=day)
        found = timing.timing(self._ws.sales(), day, customers=customers)
        return {"segment": segment, **found}

    def next_purchases(self, *, segment: str | None = None, as_of: DateLike | None = None) -> Table:
        """Per customer: expected next purchase (the stored model's where ``patron predict``
        ran, else empirical) and the best day to contact (:func:`timing.next_purchase`)."""
        day = self._ws.as_of(as_of)
        predictions = self._predictions(day)
        table = timing.next_purchase(self._ws.sales(), day, predictions=predictions)
        return _only(table, self.members(segment, as_of=day))

    @reads(top=as_whole, min_support=as_whole)
    def affinity(
        self,
        *,
        by: str = "category",
        segment: str | None = None,
        dimension: str = "rfm_segment",
        as_of: DateLike | None = None,
        top: int = 5,
        min_support: int = 5,
    ) -> dict[str, Any]:
        """What each group of ``dimension`` leans to (lift over the base rate), what repeat
        buyers buy that one-and-done buyers do not, and the gateway first purchases (with the
        mean predicted CLV of the customers they brought once ``patron predict`` has run)."""
        day = self._ws.as_of(as_of)
        baskets = self.baskets()
        groups = _only(self._groups(dimension, day), self.members(segment, as_of=day))
        with self._scratch(affinity.occasion_shares(baskets, day, by)) as shares:
            return {
                "as_of": day.isoformat(),
                "by": by,
                "dimension": dimension,
                "segment": segment,
                "concentration": affinity.concentration(baskets, day, by=by),
                "groups": affinity.group_affinity(
                    baskets,
                    groups,
                    dimension,
                    day,
                    by=by,
                    top=top,
                    min_support=min_support,
                    shares=shares,
                ),
                "repeat": affinity.repeat_affinity(
                    baskets, day, by=by, min_support=min_support, shares=shares
                ),
                "gateways": affinity.gateways(
                    baskets, day, by=by, min_support=min_support, predictions=self._predictions(day)
                ),
            }

    @reads(top=as_whole)
    def customer_affinities(
        self,
        *,
        by: str = "category",
        segment: str | None = None,
        as_of: DateLike | None = None,
        top: int = 3,
    ) -> Table:
        """Per buyer, the ``top`` items they lean to, best first (:func:`customer_affinity`)."""
        day = self._ws.as_of(as_of)
        table = affinity.customer_affinity(self.baskets(), day, by=by, top=top)
        return _only(table, self.members(segment, as_of=day))

    def customer_discounts(
        self, *, segment: str | None = None, as_of: DateLike | None = None
    ) -> Table:
        """Per buyer: discounted share, full-price vs discounted AOV (in the currency's
        decimals: a file's 27.654444444444444 dollars is 27.65), the sensitivity score."""
        day = self._ws.as_of(as_of)
        table = discount.customer_discounts(self._ws.table("orders"), day)
        table = in_currency(table, AOVS.keys(), self._ws.config.currency)
        return _only(table, self.members(segment, as_of=day))

    @reads(experiments=as_names)
    def discount(
        self,
        *,
        dimension: str = DISCOUNT_DIMENSION,
        experiments: Sequence[str] = (),
        segment: str | None = None,
        as_of: DateLike | None = None,
    ) -> dict[str, Any]:
        """Discount behaviour per group of ``dimension``; each experiment named in
        ``experiments`` (``NAME`` or ``NAME:VARIANT``, its audience one group of ``dimension``)
        replaces its group's observational reading by the conversion lift it measured.

        ``segment`` keeps the groups and the band counts to its customers; the prior behind
        the scores is still the whole shop's, so a customer scores the same either way."""
        day = self._ws.as_of(as_of)
        members = self.members(segment, as_of=day)
        scores = discount.customer_discounts(self._ws.table("orders"), day)
        groups = _only(self._groups(dimension, day), members)
        measured = dict(self._measured(spec, dimension, day) for spec in experiments)
        table = discount.segment_discounts(scores, groups, dimension)
        table = discount.with_measured_response(table, measured)
        scores = _only(scores, members)
        bands = scores.group_by("discount_band").agg(customers=scores.count())
        return {
            "as_of": day.isoformat(),
            "dimension": dimension,
            "segment": segment,
            "bands": {
                r["discount_band"]: r["customers"] for r in sorted(_rows(bands), key=_band_rank)
            },
            "segments": [_rounded(row, AOVS) for row in _rows(table)],
        }

    @reads(min_customers=as_whole)
    def replenishment(
        self, *, by: str = "sku", as_of: DateLike | None = None, min_customers: int = 5
    ) -> dict[str, Any]:
        """Each item's repurchase interval (median, quartiles, spread) from its repeat buyers
        (:mod:`patron.insights.replenishment`)."""
        day = self._ws.as_of(as_of)
        return replenishment.replenishment(self.baskets(), day, by=by, min_customers=min_customers)

    @reads(within=as_whole, min_customers=as_whole)
    def due(
        self,
        *,
        within: int,
        by: str = "sku",
        segment: str | None = None,
        as_of: DateLike | None = None,
        min_customers: int = 5,
    ) -> Table:
        """Customers whose regular item is due within ``within`` days of the as-of day (overdue
        ones included, lapsed ones not), with the item and due date, and who they are to an
        email tool (:func:`_addressed`), by due date."""
        day = self._ws.as_of(as_of)
        table = replenishment.due(
            self.baskets(), day, within=within, by=by, min_customers=min_customers
        )
        due = _only(table, self.members(segment, as_of=day))
        return _addressed(due, self._ws.table("customers"), ("due_date", "customer_key", by))

    @reads(k=as_whole, recent_days=as_whole, exclude_categories=as_names)
    def recommend(
        self,
        identifier: str | None = None,
        *,
        segment: str | None = None,
        as_of: DateLike | None = None,
        k: int = K,
        recent_days: int = RECENT_DAYS,
        exclude_categories: Sequence[str] = (),
    ) -> Table:
        """Next best products from co-purchases (:mod:`patron.insights.recommend`): for the
        customer with ``identifier`` (email, phone, any id or key), for ``segment``, or for
        every buyer; business rules: in stock, not bought in ``recent_days``, categories."""
        day = self._ws.as_of(as_of)
        customers = self._whom(identifier, segment, day)
        return recommend.recommend(
            self.baskets(),
            day,
            customers=customers,
            k=k,
            recent_days=recent_days,
            exclude_categories=exclude_categories,
        )

    @reads(recent_days=as_whole, exclude_categories=as_names)
    def offers(
        self,
        *,
        segment: str | None = None,
        as_of: DateLike | None = None,
        recent_days: int = RECENT_DAYS,
        exclude_categories: Sequence[str] = (),
    ) -> Table:
        """The challenge offer per customer: two items they buy again and again plus one stretch
        item from a new, higher-value category (:mod:`patron.insights.offers`), with the
        customer's ``customer_id``, ``email`` and ``email_consent`` (:func:`_addressed`)."""
        day = self._ws.as_of(as_of)
        customers = self._whom(None, segment, day)
        table = offers.offers(
            self.baskets(),
            day,
            customers=customers,
            recent_days=recent_days,
            exclude_categories=exclude_categories,
            currency=self._ws.config.currency,
        )
        return _addressed(table, self._ws.table("customers"))

    @reads(k=as_whole)
    def backtest(
        self, *, as_of: DateLike | None = None, split: DateLike | None = None, k: int = K
    ) -> dict[str, Any]:
        """precision@k, recall@k and hit rate of the recommendations and of popularity on the
        purchases after ``split`` (default: 90 days before the as-of day)."""
        day = self._ws.as_of(as_of)
        first = optional_day(split, "split")
        return backtest.backtest(self.baskets(), day, split=first, k=k)

    def _whom(self, identifier: str | None, segment: str | None, as_of: date) -> Table | None:
        """The customers to score: one person, one segment, or (None) every buyer."""
        if identifier is not None and segment is not None:
            raise InputError("name a customer or a segment, not both")
        if identifier is None:
            return self.members(segment, as_of=as_of)
        key = self._ws.customer(identifier)["customer_key"]
        return ibis.memtable({"customer_key": [key]})

    @reads(top=as_real, days=as_whole)
    def profile(
        self, *, as_of: DateLike | None = None, top: float = 0.2, days: int = 365
    ) -> dict[str, Any]:
        """The ideal customer profile: what the top ``top`` by value looked like at their first
        purchase against everyone else, with effect sizes (:mod:`patron.insights.ideal`);
        value is the stored predicted CLV where ``patron predict`` ran."""
        day = self._ws.as_of(as_of)
        customers = self._ws.table("customers")
        return ideal.ideal_profile(
            self.baskets(),
            customers,
            day,
            predictions=self._predictions(day),
            top=top,
            days=days,
            currency=self._ws.config.currency,
        )

    @reads(window=as_whole)
    def channels(
        self,
        *,
        dimension: str = "rfm_segment",
        segment: str | None = None,
        as_of: DateLike | None = None,
        window: int = 365,
    ) -> dict[str, Any]:
        """Per group of ``dimension`` (of ``segment``'s customers only, when given): the
        preferred purchase and engagement channels, NPS from survey answers and the return
        rate (:mod:`patron.insights.channels`)."""
        day = self._ws.as_of(as_of)
        groups = _only(self._groups(dimension, day), self.members(segment, as_of=day))
        orders, events = self._ws.table("orders"), self._ws.table("events")
        zone = self._ws.config.timezone
        preferred = channels.customer_channels(orders, events, day, timezone=zone)
        experience = channels.segment_experience(
            orders, events, groups, dimension, day, window=window, timezone=zone
        )
        return {
            "as_of": day.isoformat(),
            "dimension": dimension,
            "segment": segment,
            "window_days": window,
            "preferences": _rows(channels.segment_channels(preferred, groups, dimension)),
            "experience": [_rounded(row, SUMS) for row in _rows(experience)],
        }

    def customer_channels(
        self, *, segment: str | None = None, as_of: DateLike | None = None
    ) -> Table:
        """Per customer: purchases and engagements by channel, and the preferred of each."""
        day = self._ws.as_of(as_of)
        orders, events = self._ws.table("orders"), self._ws.table("events")
        table = channels.customer_channels(orders, events, day, timezone=self._ws.config.timezone)
        return _only(table, self.members(segment, as_of=day))

    def _groups(self, dimension: str, as_of: date) -> Table:
        """The segments table, checked to have ``dimension``."""
        groups = self._ws.segments(as_of=as_of)
        if dimension not in groups.columns:
            raise InputError(f"{option('dimension')} {dimension!r} is not a segment column")
        return groups

    def customer_fields(self, *, as_of: DateLike | None = None) -> Table:
        """Per buyer, what an email tool personalizes with: ``next_purchase_date`` and its
        ``next_purchase_basis`` (:meth:`next_purchases`), ``next_contact_date``,
        ``top_categories`` (best first), ``discount_score`` (higher: more discount-driven),
        ``discount_band``, ``replenishment_due`` and ``replenishment_sku`` (the earliest due
        regular item), ``recommended_items`` (the top :data:`RECOMMENDED` skus of
        :meth:`recommend`, best first); the line-based fields are empty without order lines."""
        day = self._ws.as_of(as_of)
        parts = [
            self.next_purchases(as_of=day).select(*_TIMING_FIELDS),
            discount.customer_discounts(self._ws.table("orders"), day, empty_ok=True).select(
                *_DISCOUNT_FIELDS
            ),
        ]
        has_lines = self.has_lines()
        if has_lines:
            baskets = self.baskets()
            picks = recommend.recommend(baskets, day, k=RECOMMENDED)
            parts += [
                affinity.customer_affinity(baskets, day).select(*_AFFINITY_FIELDS),
                replenishment.customer_due(baskets, day),
                picks.group_by("customer_key").agg(
                    recommended_items=picks.sku.group_concat(", ", order_by=picks.rank)
                ),
            ]
        kept = [self._kept(part) for part in parts]
        t = kept[0]
        for part in kept[1:]:
            t = t.left_join(part, "customer_key").drop("customer_key_right")
        if not has_lines:
            t = t.mutate(
                top_categories=ibis.null("string"),
                replenishment_due=ibis.null("date"),
                replenishment_sku=ibis.null("string"),
                recommended_items=ibis.null("string"),
            )
        return t

    def _kept(self, table: Table) -> Table:
        """``table`` computed once into a temporary table of this session.

        Joined as one query, the per-customer parts of a million customers outgrow DuckDB's
        memory limit; one at a time, each fits and the final join is of small rows.
        """
        name = f"_insight_part_{next(self._numbers)}"
        self._temps.append(name)
        return self._ws.warehouse.ibis.create_table(name, table, temp=True, overwrite=True)

    @contextmanager
    def _scratch(self, table: Table) -> Iterator[Table]:
        """``table`` computed once for the analyses of one call, dropped after them."""
        kept = self._kept(table)
        name = self._temps[-1]  # _kept's name for it, whatever the analyses keep meanwhile
        try:
            yield kept
        finally:
            self._drop([name])

    def release(self) -> None:
        """Drop the temporary tables behind earlier :meth:`customer_fields` results, which
        stop working; without it they last until the workspace closes."""
        self._drop(list(self._temps))

    @contextmanager
    def transient(self) -> Iterator[None]:
        """The temporary tables made inside the block dropped after it (an export's), those of
        results the caller holds from before it kept."""
        before = set(self._temps)
        try:
            yield
        finally:
            self._drop([name for name in self._temps if name not in before])

    def _drop(self, names: list[str]) -> None:
        for name in names:
            self._temps.remove(name)
            self._ws.warehouse.ibis.drop_table(name, force=True)

    def has_lines(self) -> bool:
        """Whether any order lines are loaded: the basket insights need them."""
        lines = self._ws.table("order_lines")
        return bool(lines.limit(1).count().to_pyarrow().as_py())

    def _measured(self, spec: str, dimension: str, as_of: date) -> tuple[str, Lift]:
        """The group an experiment tested and the relative conversion lift it measured."""
        from patron.experiments import registry
        from patron.experiments.analyze import Question

        name, _, variant = spec.partition(":")
        design = registry.find(self._ws.store, name)["design"]
        column, sep, group = design.audience.partition("=")
        if not sep or column.strip() != dimension:
            raise InputError(
                f"{option('experiments', 'experiment')} {name!r} tested the audience "
                f"{design.audience!r}, not one group of {dimension!r}; its lift cannot stand for "
                f"a segment of {dimension!r}"
            )
        readout = self._ws.analyze_experiment(
            name, question=Question(metric="conversion"), as_of=as_of
        )
        row = _variant_row(readout["variants"], design.baseline, variant or None, name)
        low, high = row["relative_lift_ci"]
        return group.strip(), Lift(row["relative_lift"], low, high)

    def _predictions(self, day: date) -> Table | None:
        return self._ws.predictions_as_of(day)


def _variant_row(
    rows: list[dict[str, Any]], baseline: str, variant: str | None, name: str
) -> dict[str, Any]:
    """The readout row of the treatment: ``variant``, or the only one beside the baseline."""
    others = {r["name"]: r for r in rows if r["name"] != baseline}
    if variant is None and len(others) == 1:
        variant = next(iter(others))
    if variant not in others:
        raise InputError(
            f"{option('experiments', 'experiment')} {name!r}: say which variant offered the "
            f"discount, as {name}:VARIANT, one of {', '.join(others)}"
        )
    row = others[variant]
    if row["relative_lift_ci"] is None:
        raise InputError(
            f"{option('experiments', 'experiment')} {name!r}: its baseline converted nobody; "
            "no lift to use"
        )
    return row


def _addressed(table: Table, customers: Table, order: Sequence[str] = ("customer_key",)) -> Table:
    """``table`` (rows of ``customer_key``) with the customer's ``customer_id``, ``email`` and
    ``email_consent`` (as ``patron export customers`` has it, unsubscribes applied) after the
    key, in ``order``: ``patron offers`` and the refill reminders' due list, for the email
    tool, gave patron's own key alone, which no email tool can match to a profile, nor tell
    who may be emailed."""
    named = ("customer_id", "email", "email_consent")
    ids = customers.select("customer_key", *named)
    joined = table.left_join(ids, "customer_key").drop("customer_key_right")
    rest = [name for name in table.columns if name != "customer_key"]
    return joined.select("customer_key", *named, *rest).order_by(list(order))


def _only(table: Table, members: Table | None) -> Table:
    """``table``'s rows of ``members`` (all rows when None)."""
    if members is None:
        return table
    return table.semi_join(members, "customer_key")


def _band_rank(row: dict[str, Any]) -> int:
    """Bands low, medium, high in that order (the engine groups them in any order)."""
    return ("low", "medium", "high").index(row["discount_band"])


def _rounded(row: dict[str, Any], places: dict[str, int]) -> dict[str, Any]:
    """``row`` with each amount named in ``places`` rounded to its places (:data:`SUMS`)."""
    return row | {k: round(row[k], n) for k, n in places.items() if row.get(k) is not None}


def _rows(table: Table) -> list[dict[str, Any]]:
    return table.to_pyarrow().to_pylist()
