"""The stored predictions: the horizon they look over, the warehouse table ``patron predict``
writes, the fields and groups it holds, and how segments carry them.

Apart from :mod:`patron.predict`, which computes them with the models (and so loads scipy):
the command line, segments, exports and experiments set or read them without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from patron.arguments import as_real, as_whole
from patron.errors import InputError, option

if TYPE_CHECKING:
    from ibis import Table


MAX_PERIODS = 3653
"""The longest horizon: ten years in days, a lifetime in weeks or months. Scoring takes time in
proportion to it (a horizon of 100,000 weeks ran for many minutes)."""


@dataclass(frozen=True)
class Horizon:
    """What to predict: ``periods`` time units ahead, discounted at ``discount_rate`` per unit."""

    periods: int = 52
    discount_rate: float = 0.0
    margin: float = 1.0

    def __post_init__(self) -> None:
        """Plain Python numbers, whatever the caller had (numpy's from a data frame): the
        settings are echoed in JSON and compared with ``<=``."""
        object.__setattr__(self, "periods", as_whole(self.periods, "periods"))
        for name in ("discount_rate", "margin"):
            object.__setattr__(self, name, as_real(getattr(self, name), name))

    @classmethod
    def of(cls, horizon: Horizon | int | None) -> Horizon:
        """``horizon`` as a Horizon: None is the default one, a number its periods."""
        if horizon is None:
            return cls()
        return (
            horizon if isinstance(horizon, Horizon) else cls(periods=as_whole(horizon, "horizon"))
        )

    def check(self) -> None:
        if not 1 <= self.periods <= MAX_PERIODS:
            raise InputError(
                f"{option('horizon')} must be from 1 to {MAX_PERIODS:,} periods (ten years of "
                f"days), got {self.periods:,}"
            )
        if self.discount_rate < 0 or not 0 < self.margin <= 1:
            raise InputError(
                f"{option('discount_rate')} must be >= 0 and {option('margin')} in (0, 1]"
            )


STORED = "customer_predictions"
"""The warehouse table ``patron predict`` writes: one row per scored customer."""
DIMENSIONS = ("predicted_value", "churn_risk")
"""Groups of the stored predictions, beside the segments of :mod:`patron.segments`."""
FIELDS = (
    "p_alive",
    "p_purchase",
    "expected_purchases",
    "next_purchase_date",
    "clv",
    "clv_low",
    "clv_high",
    *DIMENSIONS,
)
"""The stored fields segments and exports carry for each customer."""
MONEY = (
    "monetary_value",
    *(f"{name}{end}" for name in ("expected_spend", "clv") for end in ("", "_low", "_high")),
)
"""The predictions' columns in money: each customer's mean repeat spend, the expected spend per
purchase and the CLV, with their bands."""
VALUE_GROUPS = ("top_20pct", "next_30pct", "bottom_50pct")
"""``predicted_value``: customers by predicted CLV (see :func:`patron.predict.for_customers`)."""
RISK_GROUPS = ("active", "at_risk", "likely_lost")
"""``churn_risk``: customers by P(alive), from ``ALIVE_AT_RISK`` and ``ALIVE_LOST``."""
NOT_SCORED = "not_scored"
"""Either group of a customer acquired after the stored predictions' as-of day."""
GROUPS = {"churn_risk": RISK_GROUPS, "predicted_value": VALUE_GROUPS}
"""Each predicted dimension's groups, in reading order (``NOT_SCORED`` apart)."""
ALIVE_AT_RISK, ALIVE_LOST = 0.7, 0.3
"""P(alive) from which a customer is ``active``, and below which ``likely_lost`` (else
``at_risk``): the ``churn_risk`` groups."""


def with_predictions(segments: Table, stored: Table) -> Table:
    """``segments`` with each customer's stored ``FIELDS`` (``not_scored`` groups for customers
    acquired after the predictions' as-of day)."""
    joined = segments.left_join(stored.select("customer_key", *FIELDS), "customer_key")
    joined = joined.drop("customer_key_right")
    return joined.mutate(**{dim: joined[dim].fill_null(NOT_SCORED) for dim in DIMENSIONS})
