"""The stored predictions: the horizon they look over, the warehouse table ``patron predict``
writes, the fields and groups it holds, and how segments carry them.

Apart from :mod:`patron.predict`, which computes them with the models (and so loads scipy):
the command line, segments, exports and experiments set or read them without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from patron.errors import InputError

if TYPE_CHECKING:
    from ibis import Table


@dataclass(frozen=True)
class Horizon:
    """What to predict: ``periods`` time units ahead, discounted at ``discount_rate`` per unit."""

    periods: int = 52
    discount_rate: float = 0.0
    margin: float = 1.0

    def check(self) -> None:
        if self.periods < 1:
            raise InputError("--horizon must be at least 1 period")
        if self.discount_rate < 0 or not 0 < self.margin <= 1:
            raise InputError("--discount-rate must be >= 0 and --margin in (0, 1]")


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
ALIVE_AT_RISK, ALIVE_LOST = 0.7, 0.3
"""P(alive) from which a customer is ``active``, and below which ``likely_lost`` (else
``at_risk``): the ``churn_risk`` groups."""


def with_predictions(segments: Table, stored: Table) -> Table:
    """``segments`` with each customer's stored ``FIELDS`` (``not_scored`` groups for customers
    acquired after the predictions' as-of day)."""
    joined = segments.left_join(stored.select("customer_key", *FIELDS), "customer_key")
    joined = joined.drop("customer_key_right")
    return joined.mutate(**{dim: joined[dim].fill_null("not_scored") for dim in DIMENSIONS})
