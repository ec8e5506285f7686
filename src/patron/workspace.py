"""The workspace: one folder holding settings, the warehouse and the operational store.

:class:`Workspace` is the one entry point of the Python API; the CLI and the server are thin
shells over its methods. The methods that fit models, load files, run experiments or compute
insights import those modules (and scipy) when called: a command that only reads the workspace,
such as ``patron status``, starts in half the time.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patron import acquisition, loaded_settings
from patron.acquisition import read_spend
from patron.arguments import DateLike, as_day, as_path, as_whole, optional_day, reads
from patron.config import CONFIG_FILE, Config, IdentityConfig
from patron.defaults import ALL, ENV_VAR, PREDICT_MODEL, TARGET_RATIO
from patron.errors import (
    InputError,
    PatronWarning,
    StalePredictionsWarning,
    WorkspaceError,
    option,
)
from patron.experiments.design import Design, exposure_time, parse_variants
from patron.export import customer_table, known_by, write_table
from patron.metrics import cohorts as cohort_metrics
from patron.metrics import kpis as kpi_metrics
from patron.metrics.base import sales_only
from patron.metrics.occasions import TABLE as OCCASIONS
from patron.metrics.occasions import Sales, data_end, last_order_date, purchase_span
from patron.overview import other_currencies, workspace_status
from patron.predictions import DIMENSIONS as PREDICTED
from patron.predictions import STORED as PREDICTIONS
from patron.predictions import Horizon, with_predictions
from patron.profile import customer_profile
from patron.quarantined import (
    Which,
    close_quarantined,
    export_quarantined,
    quarantine_rows,
    quarantine_summary,
)
from patron.segments import DIMENSIONS, customer_segments, migration, summary
from patron.sql import scalar, tables
from patron.warehouse import Warehouse, engine_path, without_password
from patron.zones import shop_zone

if TYPE_CHECKING:
    import ibis

    from patron.experiments.analyze import Question
    from patron.ingest.loader import LoadResult, Progress
    from patron.insights.api import Insights
    from patron.models import Model
    from patron.store import Store

DEFAULT_FOLDER = "patron-workspace"


def default_folder() -> Path:
    """``$PATRON_WORKSPACE`` if set, else ``./patron-workspace``; ``~`` expanded, as in
    ``--workspace``: crontab, systemd and Airflow set variables without a shell to expand it."""
    return as_path(os.environ.get(ENV_VAR) or DEFAULT_FOLDER, ENV_VAR)


class Workspace:
    """An open workspace. Create one with :meth:`init`, open one with :meth:`open`.

    Examples
    --------
    >>> ws = Workspace.init("shop", timezone="Europe/Berlin", currency="EUR")  # doctest: +SKIP
    >>> ws.load("orders", ["orders.csv"])                                      # doctest: +SKIP
    >>> ws.table("orders").group_by("channel").agg(n=ws.table("orders").count())  # doctest: +SKIP
    """

    def __init__(self, folder: Path, config: Config, *, read_only: bool = False) -> None:
        self.folder = folder
        self.config = config
        self.warehouse = Warehouse(
            config.warehouse, folder, memory_limit=config.memory_limit, read_only=read_only
        )
        try:
            loaded_settings.check(self.warehouse.duckdb, config, folder)
        except WorkspaceError:
            self.warehouse.close()
            raise

    @cached_property
    def store(self) -> Store:
        """The operational store (the experiments' records), opened at first use: SQLAlchemy
        takes a third of a second to import, which commands that never read it need not pay."""
        from patron.store import Store

        self.warehouse.check_open()  # a closed workspace's store stays closed
        return Store(self.config.store, self.folder)

    @cached_property
    def insights(self) -> Insights:
        """What to do for each customer: timing, affinity, discount sensitivity, next products
        (:mod:`patron.insights`)."""
        from patron.insights.api import Insights

        return Insights(self)

    @classmethod
    def init(
        cls,
        folder: str | Path,
        *,
        warehouse: str | None = None,
        store: str | None = None,
        timezone: str | None = None,
        currency: str | None = None,
        phone_region: str | None = None,
        max_links: int | None = None,
    ) -> Workspace:
        """Create a workspace folder with settings, warehouse tables and operational store
        (``warehouse``, ``store``: URLs, see ``docs/warehouse.md``; default: files inside)."""
        path = as_path(folder, "folder")
        if (path / CONFIG_FILE).exists():
            raise _already(path)
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{path} exists and is not an empty folder; choose a new one")
        given = {
            "warehouse": warehouse,
            "store": store,
            "timezone": timezone,
            "currency": None if currency is None else currency.upper(),
            "phone_region": None if phone_region is None else phone_region.upper(),
        }  # None is "not given"; an empty string is a value, which the checks refuse
        config = replace(
            Config(),
            **{name: value for name, value in given.items() if value is not None},
            identity=IdentityConfig(**({} if max_links is None else {"max_links": max_links})),
        )
        made = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        with _claimed(path):
            workspace = None
            try:
                _make_folder(engine_path(config.warehouse, path).parent)  # duckdb://data/w.duckdb
                workspace = cls(path, config)
                workspace.warehouse.check_unclaimed()
                workspace.warehouse.create_tables(config.currency)
                workspace.warehouse.publish()  # another backend gets the (empty) tables at once
                workspace.store.create()
            except BaseException:
                if workspace is not None:
                    workspace.close()
                _remove_contents(path, folder_too=made)  # a failed init leaves no half workspace
                raise
            config.write(path)
        return workspace

    @classmethod
    def open(cls, folder: str | Path | None = None, *, read_only: bool = False) -> Workspace:
        """Open an existing workspace (default: ``$PATRON_WORKSPACE`` or ``./patron-workspace``).

        ``read_only=True`` reads it beside other readers (``patron status``, a second notebook)
        instead of holding it alone: every method that only reads works; those that write
        (:meth:`load`, :meth:`publish`, ``predict(store=True)``, :meth:`close_quarantine`,
        :meth:`create_experiment`, :meth:`delete_experiment`) raise :class:`WorkspaceError`.
        A workspace another process holds open for writing cannot be opened at all, nor one
        this process holds open the other way (WorkspaceError).
        """
        path = as_path(folder, "folder") if folder is not None else default_folder()
        if not (path / CONFIG_FILE).is_file():
            raise WorkspaceError(
                f"{path} is not a patron workspace (no {CONFIG_FILE}); "
                f"create one with: patron init {path}"
            )
        config = Config.read(path)
        if not (engine := engine_path(config.warehouse, path)).is_file():
            raise WorkspaceError(  # opening would make an empty one, without patron's tables
                f"{path} is not a whole patron workspace: its warehouse {engine} is missing; "
                "put the file back, or create a new workspace with: patron init FOLDER"
            )
        return cls(path, config, read_only=read_only)

    def load(
        self,
        table: str,
        sources: str | Path | Any | Sequence[str | Path | Any],
        *,
        mapping: dict[str, str] | None = None,
        format: str | None = None,
        date_format: str | None = None,
        decimal_comma: bool = False,
        encoding: str = "utf-8",
        max_quarantined: int | str | None = None,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> LoadResult:
        """Load files or data frames into ``table`` (orders, lines, products, customers, events).

        All-or-nothing and idempotent; invalid rows go to quarantine. See ``docs/loading.md``.
        ``max_quarantined``: a load that would quarantine more rows than this (a count, or a
        share of the rows read such as ``"2%"``) changes nothing and raises InputError.
        ``now`` is the load's time (default: the clock); a naive one is the shop's clock.
        """
        from patron.ingest.limit import QuarantineLimit
        from patron.ingest.loader import LoadOptions, load

        self._writable("load")
        if now is not None and not isinstance(now, datetime):
            raise InputError(f"now must be a datetime (the load's time), not {now!r}")
        items = list(sources) if isinstance(sources, list | tuple) else [sources]
        options = LoadOptions(
            mapping={str(source): target for source, target in (mapping or {}).items()},
            format=format,
            date_format=date_format,
            decimal_comma=decimal_comma,
            encoding=encoding,
            max_quarantined=None
            if max_quarantined is None
            else QuarantineLimit.parse(max_quarantined),
        )
        result = load(
            self.warehouse.duckdb, self.config, table, items, options, now=now, progress=progress
        )
        if result.table == "orders":
            self._warn_currencies(result.load_id)
        if self.warehouse.external:
            if progress:
                progress("copying to the warehouse")
            try:
                self.warehouse.publish(result)
            except WorkspaceError as exc:
                raise WorkspaceError(
                    f"{exc}. The load itself is saved in the workspace; run `patron publish` "
                    "once the warehouse answers"
                ) from exc
        return result

    def _warn_currencies(self, load_id: int) -> None:
        """Say when a load brought orders in other currencies than the workspace's: patron
        does not convert, and revenue, CLV and every KPI would add 100 EUR to 100 USD."""
        found = other_currencies(self.warehouse.duckdb, self.config.currency, load_id)
        if found:
            counts = ", ".join(f"{n:,} in {code}" for code, n in found.items())
            warnings.warn(
                f"this load has orders in other currencies than the workspace's "
                f"{self.config.currency} ({counts}); patron does not convert them, so their "
                f"amounts count as {self.config.currency}: load them converted",
                PatronWarning,
                stacklevel=3,
            )

    def publish(self) -> list[str]:
        """Copy every table metrics read from the engine to the warehouse, when that is another
        backend (what each load does for the tables it changed); the tables copied."""
        self._writable("publish")
        return self.warehouse.publish()

    def compact(self) -> dict[str, Any]:
        """Rewrite the workspace's DuckDB file with its live data alone (daily loads leave it
        about twice the size one load of the same rows makes); its path and bytes before and
        after. Another warehouse's tables are its server's to vacuum."""
        self._writable("compact")
        before, after = self.warehouse.compact()
        return {"file": str(self.warehouse.path), "bytes_before": before, "bytes_after": after}

    def table(self, name: str) -> ibis.Table:
        """A table of the data contract as an Ibis expression, for notebooks and SQL users."""
        return self.warehouse.table(name)

    def purchases(self) -> ibis.Table:
        """The purchase rows of ``orders``: neither returns nor cancelled orders (statuses in
        :data:`patron.ingest.contract.CANCELLED_STATUSES`), every column; what the metrics count
        as orders."""
        orders = sales_only(self.table("orders"))
        return orders.filter(~orders.is_return)

    def sales(self) -> Sales:
        """The orders and their purchase occasions, as every metric reads them (Ibis tables).

        Occasions come from the ``purchase_occasions`` table each orders load rebuilds; a
        workspace loaded before that table existed gets them computed from the orders.
        """
        orders = self.table("orders")
        if self.warehouse.has_table(OCCASIONS):
            return Sales(orders, self.warehouse.ibis.table(OCCASIONS))
        return Sales.of(orders)

    def customer(self, identifier: str | int) -> dict[str, Any]:
        """The 360 profile of the person with ``identifier`` (email, phone, any id, or key)."""
        return customer_profile(
            self.warehouse.duckdb, identifier, phone_region=self.config.phone_region
        )

    def status(self) -> dict[str, Any]:
        """The workspace at a glance: customers, orders, revenue, returns, quarantine, ...;
        ``warehouse`` (its URL, no password) and ``unpublished_loads`` (loads a warehouse other
        than the engine misses: run :meth:`publish`)."""
        status = workspace_status(
            self.warehouse.duckdb, currency=self.config.currency, timezone=self.config.timezone
        )
        status["warehouse"] = without_password(self.config.warehouse)
        status["unpublished_loads"] = []
        if self.warehouse.external:
            from patron.publish import unpublished

            status["unpublished_loads"] = unpublished(self.warehouse.duckdb)
        return status

    @reads(limit=as_whole, load=as_whole)
    def quarantine(
        self,
        *,
        limit: int | None = None,
        table: str | None = None,
        file: str | Path | None = None,
        load: int | None = None,
        reason: str | None = None,
        state: str = "open",
    ) -> list[dict[str, Any]]:
        """Rows that failed validation, newest load first, with file, line, field, reason and
        the load that fixed them (``fixed_by``); of one ``table`` (``"orders"``), ``file``,
        ``load`` id or ``reason`` (text it contains) when given. ``state``: ``"open"`` (no
        later load has brought in a row with its key, nobody closed it), ``"fixed"``,
        ``"closed"`` or ``"all"`` (:mod:`patron.quarantined`)."""
        which = _which(table, file, load, reason, state)
        return quarantine_rows(self.warehouse.duckdb, which, limit=limit)

    @reads(load=as_whole)
    def quarantine_summary(
        self,
        *,
        table: str | None = None,
        file: str | Path | None = None,
        load: int | None = None,
        reason: str | None = None,
        state: str = "all",
    ) -> dict[str, Any]:
        """Quarantined rows, and how many are still open, counted per table, field and
        reason, most first (:func:`patron.quarantined.quarantine_summary`)."""
        which = _which(table, file, load, reason, state)
        return quarantine_summary(self.warehouse.duckdb, which)

    @reads(load=as_whole)
    def export_quarantine(
        self,
        out: str | Path,
        *,
        table: str | None = None,
        file: str | Path | None = None,
        load: int | None = None,
        reason: str | None = None,
        state: str = "open",
    ) -> dict[str, Any]:
        """Write the quarantined records (the open ones unless ``state`` says otherwise) in
        their files' own columns to ``out`` (CSV or Parquet), to fix and load again; returns
        how many were ``written`` and ``skipped`` (lines that had no fields), and the
        ``tables`` to load them into."""
        which = _which(table, file, load, reason, state)
        return export_quarantined(self.warehouse.duckdb, as_path(out, "out"), which)

    @reads(load=as_whole, line=as_whole)
    def close_quarantine(
        self,
        *,
        note: str,
        table: str | None = None,
        file: str | Path | None = None,
        load: int | None = None,
        line: int | None = None,
        reason: str | None = None,
    ) -> int:
        """Close the open quarantine entries the arguments pick (one at least), with ``note``
        saying why: rows no later load can fix (a conflict whose first version stands, a
        customer record mended at its source). Returns how many were closed
        (:func:`patron.quarantined.close_quarantined`)."""
        self._writable("close_quarantine")
        self.warehouse.create_tables(self.config.currency)  # made before entries could be closed
        which = _which(table, file, load, reason, "open", line)
        return close_quarantined(self.warehouse.duckdb, which, note)

    def as_of(self, day: DateLike | None = None, name: str = "as_of") -> date:
        """``day`` (a date or ISO text, :mod:`patron.arguments`), or by default the last day of
        the orders loaded, returns and cancelled orders included
        (:func:`patron.metrics.occasions.last_order_date`; metrics never read the clock)."""
        return optional_day(day, name) or last_order_date(self.sales())

    def _metric_day(self, day: DateLike | None) -> date:
        """:meth:`as_of` for the metrics, which compute a day after the data as a backtest
        would (nothing happened since) but warn: a mistyped year showed every customer lost."""
        chosen = self.as_of(day)
        end = None if day is None else data_end(self.sales())
        if end is not None and chosen > end:
            warnings.warn(
                f"{option('as_of')} {chosen} is after the last day of the orders loaded, {end}: "
                "the days between count as days without purchases (are later orders not "
                "loaded yet?)",
                PatronWarning,
                stacklevel=3,
            )
        return chosen

    def _model_day(self, day: DateLike | None, name: str) -> date:
        """:meth:`as_of` for the day a model is fitted or scored by, refused past the last
        day of the orders loaded (:func:`patron.clv.check_loaded`)."""
        from patron import clv

        chosen = self.as_of(day, name)
        if day is not None:
            clv.check_loaded(self.sales(), chosen, name)
        return chosen

    @reads(window=as_whole, early_days=as_whole)
    def kpis(
        self,
        *,
        as_of: DateLike | None = None,
        window: int = 365,
        early_days: int = 90,
        by: str | None = None,
        trend: bool = False,
    ) -> dict[str, Any]:
        """Customer KPIs (definitions: :mod:`patron.metrics.kpis`), or their monthly trend.

        Overall, the KPI keys sit at the top level; with ``by`` they are in ``groups``; with
        ``trend`` each month end is a row of ``points``.

        Parameters
        ----------
        as_of:
            The day they are as of (a date, datetime, pandas Timestamp or ISO text); default
            the last day of the orders loaded (:meth:`as_of`).
        window:
            Days of the trailing window ``(as_of - window, as_of]`` (active, new, lost
            customers, revenue, orders); the previous window is the one before it.
        early_days:
            Days after a first purchase within which a second counts for ``early_repeat_rate``.
        by:
            Group by ``"acquisition_channel"``, ``"channel"`` or ``"cohort"``; None: overall.
        trend:
            The KPIs as of each month end up to ``as_of`` instead of ``as_of`` alone.

        Examples
        --------
        >>> ws.kpis(as_of="2024-06-30")["retention_rate"]  # doctest: +SKIP
        >>> ws.kpis(by="acquisition_channel")["groups"]  # one dict per group  # doctest: +SKIP
        """
        sales, day = self.sales(), self._metric_day(as_of)
        head = {
            "as_of": day.isoformat(),
            "window_days": window,
            "early_days": early_days,
            "currency": self.config.currency,
            "by": by,
        }
        if trend:
            first = purchase_span(sales)[0]
            points = kpi_metrics.trend(
                sales, day, first=first, window=window, early_days=early_days, by=by
            )
            return {**head, "trend": "month", "points": points}
        groups = kpi_metrics.kpis(sales, day, window=window, early_days=early_days, by=by)
        return {**head, "groups": groups} if by else {**head, **groups[0]}

    @reads(window=as_whole)
    def concentration(self, *, as_of: DateLike | None = None, window: int = 365) -> list[Any]:
        """The Pareto curve of window revenue over active customers."""
        return kpi_metrics.concentration(self.sales(), self._metric_day(as_of), window=window)

    def cohorts(
        self, *, as_of: DateLike | None = None, period: str = "month", metric: str = "retention"
    ) -> dict[str, Any]:
        """Acquisition cohorts by age (definitions: :mod:`patron.metrics.cohorts`)."""
        day = self._metric_day(as_of)
        return cohort_metrics.cohorts(self.sales(), day, period=period, metric=metric)

    def compare_cohorts(
        self, first: object, second: object, *, as_of: DateLike | None = None, period: str = "month"
    ) -> dict[str, Any]:
        """Two cohorts side by side: retention, repeat and cumulative revenue per customer."""
        day = self._metric_day(as_of)
        return cohort_metrics.compare(self.sales(), day, first, second, period=period)

    def clv_curves(self, *, as_of: DateLike | None = None, period: str = "month") -> dict[str, Any]:
        """Historical CLV by months since acquisition, per acquisition channel."""
        return cohort_metrics.clv_curves(self.sales(), self._metric_day(as_of), period=period)

    @reads(bins=as_whole, window=as_whole)
    def segments(
        self, *, as_of: DateLike | None = None, bins: int = 5, window: int = 365
    ) -> ibis.Table:
        """One row per customer: RFM, segment, stage and value tier (:mod:`patron.segments`),
        and the stored predictions' fields and groups once ``patron predict`` has run as of
        the same day (:meth:`predictions_as_of`)."""
        day = self._metric_day(as_of)
        table = customer_segments(self.sales(), day, bins=bins, window=window)
        stored = self.predictions_as_of(day)
        return table if stored is None else with_predictions(table, stored)

    @reads(bins=as_whole, window=as_whole)
    def segment_summary(
        self, *, as_of: DateLike | None = None, bins: int = 5, window: int = 365
    ) -> dict[str, Any]:
        """Each segment's size, revenue share and average value, with a sentence to read."""
        day = self.as_of(as_of)
        table = self.segments(as_of=day, bins=bins, window=window)
        dimensions = DIMENSIONS + (PREDICTED if "churn_risk" in table.columns else ())
        return {
            "as_of": day.isoformat(),
            "currency": self.config.currency,
            **summary(table, window=window, dimensions=dimensions),
        }

    @reads(bins=as_whole, window=as_whole)
    def segment_migration(
        self,
        start: DateLike,
        *,
        as_of: DateLike | None = None,
        dimension: str = "rfm_segment",
        bins: int = 5,
        window: int = 365,
    ) -> dict[str, Any]:
        """Where customers in each group at ``start`` are at ``as_of``."""
        first, day = as_day(start, "start"), self._metric_day(as_of)
        return migration(self.sales(), first, day, dimension=dimension, bins=bins, window=window)

    def customer_summary(
        self,
        *,
        calibration_end: DateLike | None = None,
        time_unit: str = "week",
        discrete: bool = False,
    ) -> ibis.Table:
        """Per customer: frequency, recency, T, monetary value (see :mod:`patron.clv`)."""
        from patron import clv

        day = self.as_of(calibration_end, "calibration_end")
        return clv.customer_summary(self.sales(), day, time_unit=time_unit, discrete=discrete)

    def fit(
        self,
        model: str = "bgnbd",
        *,
        calibration_end: DateLike | None = None,
        time_unit: str = "week",
        penalizer: float = 0.0,
    ) -> Model:
        """Fit a customer-base model on the customers acquired by ``calibration_end``, with an
        optional L2 ``penalizer`` that keeps parameters finite on data that cannot pin them."""
        from patron import clv

        spec = clv.model_spec(model)
        day = self._model_day(calibration_end, "calibration_end")
        summary = self.customer_summary(
            calibration_end=day, time_unit=time_unit, discrete=spec.discrete
        )
        rows = clv.unique_rows(summary, spec.columns)
        return clv.fit_rows(model, rows, penalizer=penalizer)

    def predict(
        self,
        *,
        as_of: DateLike | None = None,
        time_unit: str = "week",
        horizon: Horizon | int | None = None,
        model: str = PREDICT_MODEL,
        store: bool = False,
        penalizer: float = 0.0,
    ) -> ibis.Table:
        """Per customer: P(alive), expected purchases, next purchase, spend and CLV, with their
        groups (:mod:`patron.predict`). ``store`` keeps them in the warehouse, where segments,
        exports and the report read them, replacing the last stored run. ``penalizer``: the
        purchase model's L2 penalty, as :meth:`fit` takes it."""
        import ibis

        from patron.predict import scores
        from patron.predict import store as store_predictions

        if store:
            self._writable("predict(store=True)")
        day = self._model_day(as_of, "as_of")
        settings = Horizon.of(horizon)
        summary = self.customer_summary(calibration_end=day, time_unit=time_unit)

        def score(table: ibis.Table) -> ibis.Table:
            return scores(
                table, settings, as_of=day, time_unit=time_unit, model=model, penalizer=penalizer
            )

        backend = self.warehouse.ibis
        if store:  # the last load scored: a later one may make these predictions stale
            loaded = ibis.literal(self._last_load(), "int64")
            scored = store_predictions(backend, summary, lambda t: score(t).mutate(load=loaded))
        else:
            scored = score(summary)
        ids = self.table("customers").select("customer_key", "customer_id", "email")
        return ids.inner_join(scored, "customer_key").order_by("customer_key")

    def stored_predictions(self) -> ibis.Table:
        """The predictions the last ``patron predict`` stored (one row per scored customer)."""
        if not self.warehouse.has_table(PREDICTIONS):
            raise InputError("no stored predictions yet: run `patron predict` first")
        return self.warehouse.ibis.table(PREDICTIONS)

    def predictions_as_of(self, day: DateLike) -> ibis.Table | None:
        """The stored predictions if ``patron predict`` made them as of ``day``, else None:
        a view of an earlier day must not read what was predicted from later purchases (an
        export as of last year carried this year's P(alive)), nor a later day stale ones.
        Nor the same day's when a later load added orders dated by ``day`` (a backfill) or
        merged customers: they were scored without those; a StalePredictionsWarning says so.
        ``day`` is a date or ISO text, as everywhere (text had never matched the stored date)."""
        day = as_day(day, "day")
        if not self.warehouse.has_table(PREDICTIONS):
            return None
        stored = self.stored_predictions()
        if stored.as_of.max().to_pyarrow().as_py() != day:
            return None
        if "load" in stored.columns and (later := self._changed_by(stored, day)):
            warnings.warn(
                f"the stored predictions as of {day} are out of date: load {later} changed "
                "orders or customers up to that day; run `patron predict` again",
                StalePredictionsWarning,
                stacklevel=3,
            )
            return None
        return stored

    def _changed_by(self, stored: ibis.Table, day: date) -> int | None:
        """The first load after ``stored`` was scored that added or updated orders dated by
        ``day``, or changed whose rows a key holds (keys the predictions hold): merged, split
        or dissolved customers, or rows gone to no one when an identifier was blocked; else
        None."""
        scored = int(stored.load.max().to_pyarrow().as_py())
        rekeyed = ("customer_merges", "blocked_identifiers", "customer_splits")
        known = tables(self.warehouse.duckdb)  # no split log in a workspace not loaded since
        later = " ".join(
            f"UNION ALL SELECT load_id FROM {log} WHERE load_id > {scored}"
            for log in rekeyed
            if log in known
        )
        return scalar(
            self.warehouse.duckdb,
            "SELECT min(load_id) FROM (SELECT load_id FROM orders WHERE load_id > ? "
            f"AND order_date <= ? {later})",
            scored,
            day,
        )

    def _last_load(self) -> int:
        return int(scalar(self.warehouse.duckdb, "SELECT coalesce(max(load_id), 0) FROM loads"))

    @reads(months=as_whole)
    def acquisition(
        self,
        *,
        as_of: DateLike | None = None,
        spend: str | Path | None = None,
        time_unit: str = "week",
        horizon: Horizon | int | None = None,
        target_ratio: float = TARGET_RATIO,
        by: str = "channel",
        months: int | None = None,
    ) -> dict[str, Any]:
        """New customers, CLV, CAC, CLV:CAC, payback and affordable CAC per acquisition channel,
        or with ``by="month"`` per channel and acquisition month of the last ``months`` (12)
        (:mod:`patron.acquisition`); ``spend`` is a file of channel spend per period.

        Options and the spend file are checked before the models are fitted, so a bad one fails
        fast; the models are fitted once, whatever the number of groups.
        """
        day, settings = self._model_day(as_of, "as_of"), Horizon.of(horizon)
        settings.check()
        acquisition.check_target(target_ratio)
        acquisition.check_by(by, months)
        sales = self.sales()
        plan = acquisition.groups(
            sales,
            day,
            () if spend is None else read_spend(as_path(spend, "spend")),
            by=by,
            months=months,
        )
        predicted = self.predict(as_of=day, time_unit=time_unit, horizon=settings)
        rows = acquisition.guidance(
            sales, predicted, day, plan, margin=settings.margin, target_ratio=target_ratio
        )
        return {
            "as_of": day.isoformat(),
            "horizon": settings.periods,
            "time_unit": time_unit,
            "discount_rate": settings.discount_rate,
            "margin": settings.margin,
            "target_ratio": target_ratio,
            "currency": self.config.currency,
            "spend": None if spend is None else str(spend),
            "by": by,
            "months": (months or acquisition.MONTHS) if by == "month" else None,
            "channels": rows,
        }

    def validate(
        self,
        calibration_end: DateLike,
        holdout_end: DateLike | None = None,
        *,
        time_unit: str = "week",
    ) -> dict[str, Any]:
        """Fit to ``calibration_end``, compare with what came after (:mod:`patron.validate`)."""
        from patron.validate import validate

        start = as_day(calibration_end, "calibration_end")
        end = self.as_of(holdout_end, "holdout_end")
        return validate(self.sales(), start, end, time_unit=time_unit)

    def create_experiment(
        self,
        name: str,
        *,
        audience: object = ALL,
        variants: str | dict[str, float] | Sequence[str] = "control:50,treatment:50",
        holdout: float = 0.0,
        salt: str | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        metric: str = "conversion",
        window: int = 30,
    ) -> dict[str, Any]:
        """Assign ``audience`` (a segment, ``all``, a file or data frame of identifiers, or a
        list of them) to ``variants`` (text, ``{name: weight}`` or names) by salted hash, after
        a ``holdout`` share, and record who got what (:mod:`patron.experiments`). ``start``
        (default: today in the shop's timezone) is when everyone is exposed; a segment is taken
        as of the day before.
        ``metric`` and ``window`` (days) declare the goal readouts judge by."""
        from patron.experiments.audience import audience_source, segment_audience
        from patron.experiments.create import create, file_audience
        from patron.experiments.outcomes import check_metric

        self._writable("create_experiment")
        day = optional_day(start, "start") or self._today()
        label, source = audience_source(audience)
        design = Design(
            name=name,
            variants=parse_variants(variants),
            salt=salt or name,
            start=day,
            holdout=holdout,
            end=optional_day(end, "end"),
            audience=label,
            metric=check_metric(metric),
            window_days=window,
        )
        self.warehouse.create_tables(self.config.currency)  # made before experiments existed
        backend = self.warehouse.ibis
        unmatched = None
        if source is not None:
            phones = self.config.phone_region
            keys, resolved = file_audience(self.warehouse, source, phone_region=phones)
            unmatched = resolved.unmatched
        else:
            segments = self.segments(as_of=min(self.as_of(), day - timedelta(days=1)))
            keys = segment_audience(segments, self.table("customers"), label)
        summary = create(
            backend,
            self.store,
            design,
            keys,
            assigned_at=exposure_time(day, self.config.timezone),
            created_at=datetime.now(UTC).replace(tzinfo=None),
        )
        return {**summary, "unmatched": unmatched}

    def experiments(self) -> list[dict[str, Any]]:
        """Every recorded experiment, newest first."""
        from patron.experiments import registry

        return [_public(record) for record in registry.listing(self.store)]

    def experiment_assignments(self, name: str) -> ibis.Table:
        """Who got what in experiment ``name``, with each customer's identifiers."""
        from patron.experiments import registry
        from patron.experiments.create import assignments

        registry.find(self.store, name)
        return assignments(self.warehouse.ibis, name, self.warehouse.table("customer_merges"))

    def export_assignments(self, name: str, out: str | Path) -> int:
        """Write who got what in ``name`` to a CSV or Parquet file; returns the rows."""
        from patron.experiments import registry
        from patron.experiments.create import export

        registry.find(self.store, name)
        merged = self.warehouse.table("customer_merges")
        return export(self.warehouse.ibis, name, as_path(out, "out"), merged)

    def delete_experiment(self, name: str) -> None:
        """Remove experiment ``name`` and its assignments from both stores."""
        from patron.experiments import registry

        self._writable("delete_experiment")  # before the store's record goes
        registry.delete(self.store, self.warehouse.ibis, name)

    def analyze_experiment(
        self,
        name: str | None = None,
        *,
        assignments_file: object = None,
        question: Question | None = None,
        start: DateLike | None = None,
        variants: str | dict[str, float] | Sequence[str] | None = None,
        baseline: str | None = None,
        as_of: DateLike | None = None,
    ) -> dict[str, Any]:
        """Read out experiment ``name`` (or a test run elsewhere, from ``assignments_file``: a
        file or data frame) on the orders and events after each customer's exposure
        (:mod:`patron.experiments`); ``question`` says what to measure and how (default: the
        design's goal metric and window)."""
        from patron.experiments import registry
        from patron.experiments.analyze import Question, analyze
        from patron.experiments.imported import read_assignments

        if name is not None and assignments_file is not None:
            raise InputError("name an experiment or pass an assignments file, not both")
        backend = self.warehouse.ibis
        extra: dict[str, Any] = {}
        if assignments_file is not None:
            imported = read_assignments(
                self.warehouse,
                assignments_file,
                phone_region=self.config.phone_region,
                timezone=self.config.timezone,
                start=optional_day(start, "start"),
                weights=parse_variants(variants, imported=True) if variants else None,
                baseline=baseline,
            )
            design, assigned = imported.design, imported.table
            extra = {
                "rows": imported.rows,
                "unmatched": imported.unmatched,
                "contaminated": imported.contaminated,
            }
        else:
            if name is None:
                raise InputError("name an experiment, or pass an assignments file")
            design = registry.find(self.store, name)["design"]
            table = backend.table(registry.WAREHOUSE_TABLE)
            assigned = table.filter(table.experiment == design.name)
        clv = self.predictions_as_of(self.as_of(as_of))  # what a lost customer is worth now
        through = self._through(design.end, as_of)
        asked = question or Question()
        merged = self.warehouse.table("customer_merges")
        readout = analyze(backend, design, assigned, asked, through=through, merged=merged, clv=clv)
        return {**readout, **extra}

    def experiment_timeline(
        self, name: str, *, as_of: DateLike | None = None
    ) -> list[dict[str, Any]]:
        """The goal metric's lift of ``name`` day after day to ``as_of``, with always-valid
        intervals (:mod:`patron.experiments.timeline`)."""
        from patron.experiments import registry
        from patron.experiments.timeline import timeline

        design = registry.find(self.store, name)["design"]
        backend = self.warehouse.ibis
        table = backend.table(registry.WAREHOUSE_TABLE)
        assigned = table.filter(table.experiment == design.name)
        through, zone = self._through(design.end, as_of), self.config.timezone
        return timeline(backend, design, assigned, through=through, timezone=zone)

    def _through(self, end: date | None, as_of: DateLike | None = None) -> datetime:
        """Where outcomes stop: the end of the as-of day (default: the data's last day), or of
        the test's end day if earlier."""
        last = self.as_of(as_of) if end is None else min(self.as_of(as_of), end)
        return exposure_time(last + timedelta(days=1), self.config.timezone)

    def export_customers(self, out: str | Path, *, as_of: DateLike | None = None) -> int:
        """Write one row per customer (identifiers, consent, totals, segments and the insights'
        per-customer fields, :meth:`Insights.customer_fields`); returns rows."""
        day = self._export_day(as_of)
        end = self._through(None, day)
        customers = known_by(self.table("customers"), self.sales().occasions, day, end)
        with self.insights.transient():
            table = customer_table(
                customers,
                self.segments(as_of=day),
                self.insights.customer_fields(as_of=day),
                currency=self.config.currency,
            )
            write_table(table, as_path(out, "out"))
        return int(customers.count().to_pyarrow().as_py())  # one row per customer, as written

    def _export_day(self, as_of: DateLike | None) -> date:
        """``as_of``, by default :meth:`as_of`'s; before any purchase (CRM records alone,
        every person a prospect) today's date in the shop's timezone."""
        if as_of is not None or self.sales().occasions.count().to_pyarrow().as_py():
            return self.as_of(as_of)
        return self._today()

    def _today(self) -> date:
        """Today's date in the shop's timezone: the machine's own date (its ``TZ``) may
        already be tomorrow or still yesterday there."""
        return datetime.now(shop_zone(self.config.timezone)).date()

    @property
    def read_only(self) -> bool:
        """Whether the workspace was opened with ``read_only=True`` (:meth:`open`)."""
        return self.warehouse.read_only

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run: every later use raises :class:`WorkspaceError`."""
        return self.warehouse.closed

    def _writable(self, method: str) -> None:
        """Refuse ``method``, which writes, in a workspace opened read-only: DuckDB's own error
        names no workspace, and comes after the operational store may have changed."""
        self.warehouse.check_open()
        if self.read_only:
            raise WorkspaceError(
                f"{method} writes to the workspace {self.folder}, which is open read-only; "
                "open it with Workspace.open(folder) (read_only=False) to write"
            )

    def close(self) -> None:
        """Close the warehouse and the operational store; a later use of the workspace, or of
        a table it returned, raises :class:`WorkspaceError`. Closing twice is harmless; a
        ``with`` block closes at its end."""
        self.warehouse.close()
        if "store" in self.__dict__:  # opened; forgotten, so a later use says it is closed
            self.__dict__.pop("store").close()

    def __repr__(self) -> str:
        state = " read-only" * self.read_only + " closed" * self.closed
        url = without_password(self.config.warehouse)
        return f"<patron.Workspace {str(self.folder)!r} warehouse={url!r}{state}>"

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_folder(folder: Path) -> None:
    """Create the folder a ``duckdb://`` warehouse file goes in; DuckDB makes no folders."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create the warehouse's folder {folder}: {exc}") from exc


INIT_MARKER = ".patron-init"
"""The file :meth:`Workspace.init` holds locked while it creates a workspace."""


@contextmanager
def _claimed(path: Path) -> Iterator[None]:
    """Hold the folder ``path`` for one ``init``: empty, or cleared of what an init killed half
    way left (its marker, unlocked: no settings, so no command opened it, and a new init
    refused a folder that was not empty). The marker stays locked until the settings are
    written, so a second init at the same time fails instead of deleting the first's files."""
    import fcntl  # POSIX; imported here so that the module loads anywhere

    marker = path / INIT_MARKER
    leftover = marker.exists()
    if not leftover and any(path.iterdir()):
        raise WorkspaceError(f"{path} exists and is not an empty folder; choose a new one")
    with marker.open("a") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise WorkspaceError(
                f"another `patron init` is creating {path}; wait for it to finish"
            ) from None
        if (path / CONFIG_FILE).exists():  # another init finished since the checks
            marker.unlink()
            raise _already(path)
        if leftover:
            _remove_contents(path, folder_too=False, keep=marker)
        yield
        marker.unlink()


def _already(path: Path) -> WorkspaceError:
    return WorkspaceError(f"{path} is already a patron workspace; open it instead")


def _remove_contents(path: Path, *, folder_too: bool, keep: Path | None = None) -> None:
    for child in path.iterdir():
        if child == keep:
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    if folder_too:
        path.rmdir()


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored experiment without its in-memory design."""
    return {k: v for k, v in record.items() if k != "design"}


def _which(
    table: str | None,
    file: str | Path | None,
    load: int | None,
    reason: str | None,
    state: str,
    line: int | None = None,
) -> Which:
    """The quarantined rows the arguments pick; a file as the path it was loaded by."""
    path = None if file is None else str(file)
    return Which(table=table, file=path, load=load, reason=reason, state=state, line=line)
