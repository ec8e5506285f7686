"""Plain-language findings computed from the report's numbers: what moved and what drives it.

Every sentence is built from the data (nothing about a specific value is written by hand), and
a finding whose numbers are missing is left out rather than guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from patron.predictions import ALIVE_AT_RISK, ALIVE_LOST
from patron.report import format as fmt
from patron.report import series
from patron.report.theme import MODEL_LABELS, STAGE_LABELS

if TYPE_CHECKING:
    from patron.report.data import ReportData

Tone = Literal["good", "bad", "info"]

STEADY = 0.005
"""Moves below half a point (shares) or 0.5% (amounts) are reported as steady."""
MIN_CHANNEL_CUSTOMERS = 30
"""A channel's 12-month CLV is compared only when this many customers stand behind it."""
WIN_BACK_SEGMENT = "Can't lose them"
DRIVERS = {
    "active_customers": "active customers",
    "purchase_frequency": "orders per customer",
    "aov": "average order value",
}
"""The factors of revenue: active customers x orders per customer x average order value."""


@dataclass(frozen=True)
class Finding:
    """One sentence and whether it is good news, bad news or context."""

    tone: Tone
    text: str


def findings(data: ReportData) -> list[Finding]:
    """Every finding the data supports, most telling first."""
    moves = [_revenue_drivers(data), _early_repeat(data), _leaky_bucket(data)]
    context = [
        _channel_value(data),
        _acquisition_value(data),
        _season(data),
        _concentration(data),
        _top_segment(data),
        _win_back(data),
        _at_risk(data),
        _stage_moves(data),
        _second_purchase(data),
        _holdout(data),
    ]
    return [f for f in (*moves, *_channel_leaks(data), *context) if f is not None]


def _early_repeat(data: ReportData) -> Finding | None:
    """The leading indicator of customer value: did more new customers come back early?"""
    before = (data.prior or {}).get("early_repeat_rate")
    after = data.kpis["early_repeat_rate"]
    if before is None or after is None:
        return None
    if abs(after - before) < STEADY:
        return Finding(
            "info", f"Early repeat rate held steady at {fmt.pct(after)} over the last 12 months."
        )
    rose = after > before
    moved = f"{'rose' if rose else 'fell'} from {fmt.pct(before)} to {fmt.pct(after)}"
    return Finding("good" if rose else "bad", f"Early repeat rate {moved} over the last 12 months.")


def _revenue_drivers(data: ReportData) -> Finding | None:
    """Revenue = active customers x orders per customer x order value: which factor moved it.

    The driver is the factor that moved furthest in the direction revenue moved.
    """
    prior, now = data.prior or {}, data.kpis
    if any(not prior.get(k) or not now.get(k) for k in ("revenue", *DRIVERS)):
        return None
    growth = now["revenue"] / prior["revenue"]
    if abs(growth - 1) < STEADY:
        return None
    logs = {k: math.log(now[k] / prior[k]) for k in DRIVERS}
    driver = max(DRIVERS, key=lambda k: logs[k] * math.copysign(1.0, growth - 1))
    parts = ", ".join(
        f"{name} {fmt.signed_pct(math.exp(logs[k]) - 1)}" for k, name in DRIVERS.items()
    )
    text = (
        f"Revenue {'rose' if growth > 1 else 'fell'} {fmt.pct(abs(growth - 1))} to "
        f"{fmt.money(now['revenue'], data.currency, compact=True)} over the last 12 months "
        f"({parts}); the biggest driver is {DRIVERS[driver]}."
    )
    return Finding("good" if growth > 1 else "bad", text)


def _leaky_bucket(data: ReportData) -> Finding | None:
    ratio, lost, new = (
        data.kpis[k] for k in ("leaky_bucket_ratio", "lost_customers", "new_customers")
    )
    if ratio is None or data.prior is None:
        return None
    counts = f"{fmt.count(lost)} lost vs {fmt.count(new)} new in the last 12 months"
    if ratio > 1:
        return Finding(
            "bad",
            f"The bucket is leaking: more customers lapsed than were won ({counts}; "
            f"leaky-bucket ratio {fmt.number(ratio)}).",
        )
    return Finding(
        "info",
        f"For every 100 new customers, {ratio * 100:.0f} active customers lapsed ({counts}).",
    )


def _channel_leaks(data: ReportData) -> list[Finding]:
    """A warning for each acquisition channel that loses more customers than it wins."""
    if len(data.channels) < 2:
        return []
    leaking = [g for g in data.channels if (g["leaky_bucket_ratio"] or 0.0) > 1]
    return [
        Finding(
            "bad",
            f"Customers acquired via {g['group']} are leaking: "
            f"{fmt.number(g['leaky_bucket_ratio'])} lapsed for every new one in the last year.",
        )
        for g in leaking
    ]


def _channel_value(data: ReportData) -> Finding | None:
    """The gap in 12-month CLV between the best and the worst acquisition channel."""
    known = [
        g
        for g in data.channels
        if g["clv_365"] and (g["clv_365_customers"] or 0) >= MIN_CHANNEL_CUSTOMERS
    ]
    if len(known) < 2:
        return None
    best = max(known, key=lambda g: g["clv_365"])
    worst = min(known, key=lambda g: g["clv_365"])
    gap = 1 - worst["clv_365"] / best["clv_365"]
    if gap < STEADY:
        return None
    money = (fmt.money(g["clv_365"], data.currency) for g in (worst, best))
    return Finding(
        "info",
        f"{worst['group'].capitalize()} customers are worth {fmt.pct(gap)} less after 12 months "
        f"than {best['group']} customers ({' vs '.join(money)} net revenue per customer).",
    )


def _acquisition_value(data: ReportData) -> Finding | None:
    """The acquisition channel whose new customers bring the most lifetime value against the
    one whose bring the least, and what each may cost at the target ratio."""
    if data.acquisition is None:
        return None
    known = [
        r
        for r in data.acquisition.channels
        if r["lifetime_value"] and r["new_customers"] >= MIN_CHANNEL_CUSTOMERS
    ]
    if len(known) < 2:
        return None
    best = max(known, key=lambda r: r["lifetime_value"])
    worst = min(known, key=lambda r: r["lifetime_value"])
    more = best["lifetime_value"] / worst["lifetime_value"] - 1
    if more < STEADY:
        return None
    value, cac = (
        [fmt.money(r[key], data.currency) for r in (best, worst)]
        for key in ("lifetime_value", "max_cac")
    )
    ratio = fmt.number(data.acquisition.target_ratio, 0)
    return Finding(
        "info",
        f"A customer acquired via {best['channel']} brings {value[0]} of lifetime value, "
        f"{fmt.pct(more)} more than one acquired via {worst['channel']} ({value[1]}): at "
        f"{ratio}:1 a new {best['channel']} customer may cost up to {cac[0]}, a "
        f"{worst['channel']} one {cac[1]}.",
    )


def _season(data: ReportData) -> Finding | None:
    """The latest same-season cohort against the one before, at the oldest age both reached."""
    cohorts = series.season_cohorts(data)
    if not cohorts:
        return None
    before, latest = cohorts[-2], cohorts[-1]
    age = min(len(before.value), len(latest.value)) - 1
    old, new = before.value[age], latest.value[age]
    if not old or new is None:
        return None
    within = "in their first season" if age == 0 else f"within {age + 1} seasons"
    verb = "more" if new >= old else "less"
    return Finding(
        "good" if new >= old else "bad",
        f"{latest.label} customers spent {fmt.money(new, data.currency)} each {within}, "
        f"{fmt.pct(abs(new / old - 1))} {verb} than {before.label} customers at the same age "
        f"({fmt.money(old, data.currency)}).",
    )


def _concentration(data: ReportData) -> Finding | None:
    top10, top20 = series.pareto_share(data, 0.1), series.pareto_share(data, 0.2)
    if top10 is None or top20 is None:
        return None
    return Finding(
        "info",
        f"The top 20% of active customers bring {fmt.pct(top20)} of the last 12 months' revenue "
        f"(the top 10%: {fmt.pct(top10)}).",
    )


def _top_segment(data: ReportData) -> Finding | None:
    rows = [r for r in data.segments["rfm_segment"] if r["revenue_share"]]
    if not rows:
        return None
    top = max(rows, key=lambda r: r["revenue_share"])
    return Finding(
        "info",
        f"{top['name']} are {fmt.pct(top['customer_share'])} of customers and bring "
        f"{fmt.pct(top['revenue_share'])} of the last 12 months' revenue.",
    )


def _win_back(data: ReportData) -> Finding | None:
    """Valuable customers who stopped buying: the segment a win-back campaign should target."""
    row = next((r for r in data.segments["rfm_segment"] if r["name"] == WIN_BACK_SEGMENT), None)
    if row is None or not row["customers"]:
        return None
    return Finding(
        "bad",
        f"{fmt.count(row['customers'])} high-value customers ({WIN_BACK_SEGMENT}, "
        f"{fmt.money(row['avg_value'], data.currency)} lifetime value on average) have not "
        f"bought for {fmt.count(row['avg_recency_days'])} days on average: a win-back target.",
    )


def _stage_moves(data: ReportData) -> Finding | None:
    """How many of the repeat-active customers of the flow start have slipped since."""
    flows = [f for f in data.flows["flows"] if f["from"] == "repeat_active"]
    total = sum(f["customers"] for f in flows)
    slipped = sum(f["customers"] for f in flows if f["to"] in ("defecting", "inactive"))
    if not total:
        return None
    label = STAGE_LABELS["repeat_active"].lower()
    return Finding(
        "bad" if slipped / total > 0.25 else "info",
        f"Of the {fmt.count(total)} {label} customers on {data.flows['from']}, "
        f"{fmt.pct(slipped / total)} are now defecting or inactive.",
    )


def _second_purchase(data: ReportData) -> Finding | None:
    """The one-and-done share and when second purchases happen: when to ask for the next one."""
    share, median = data.kpis["one_and_done_share"], data.kpis["days_to_second_purchase_median"]
    if share is None or median is None:
        return None
    return Finding(
        "info",
        f"{fmt.pct(share)} of customers have bought only once; those who come back typically "
        f"do so after {fmt.count(median)} days (median), the moment to ask for the next order.",
    )


def _at_risk(data: ReportData) -> Finding | None:
    """Customers whose P(alive) is slipping and the predicted value they hold: still winnable."""
    if data.models is None:
        return None
    value = data.models.value
    group = value.groups["churn_risk"]["at_risk"]
    customers = group["customers"]
    if not customers:
        return None
    return Finding(
        "bad",
        f"{fmt.count(customers)} customers ({fmt.pct(customers / value.customers)}) are at risk "
        f"(P(alive) from {fmt.pct(ALIVE_LOST)} to {fmt.pct(ALIVE_AT_RISK)}), holding "
        f"{fmt.pct(group['equity'] / value.equity)} of the predicted customer equity "
        f"({fmt.money(group['equity'], data.currency, compact=True)}).",
    )


def _holdout(data: ReportData) -> Finding | None:
    """What the best model predicted for the holdout against what happened: how far to trust
    the predictions."""
    if data.models is None:
        return None
    validation = data.models.validation
    scores = {m["model"]: m for m in validation["models"]}
    best, naive = scores[validation["best"]], scores["naive"]
    beats = best["mae"] < naive["mae"]
    return Finding(
        "good" if beats else "bad",
        f"Fitted on purchases to {validation['calibration_end']}, "
        f"{MODEL_LABELS.get(best['model'], best['model'])} predicted "
        f"{fmt.count(best['holdout_predicted'])} purchases in the "
        f"{fmt.number(validation['holdout_periods'], 0)} {validation['time_unit']}s after; "
        f"{fmt.count(best['holdout_actual'])} happened. Per customer it is off by "
        f"{fmt.number(best['mae'])} purchases on average, {'better' if beats else 'no better'} "
        f"than the naive baseline's {fmt.number(naive['mae'])}.",
    )
