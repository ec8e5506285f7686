"""The stored predictions: the warehouse table ``patron predict`` writes, the fields and groups
it holds, and how segments carry them.

Apart from :mod:`patron.predict`, which computes them with the models (and so loads scipy):
segments, exports and experiments read what is stored without loading any model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ibis import Table

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
