"""What every number in the report means, and the convention or paper it follows.

Why in the report: a marketer forwarding a chart should not have to look up what "leaky-bucket
ratio" or "Hibernating" means. The wording restates the definitions of :mod:`patron.metrics` and
:mod:`patron.segments` for a business reader; the segment cells come from the rule table itself,
so the glossary cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from patron.segments import RULES, SEGMENTS


@dataclass(frozen=True)
class Term:
    """A glossary entry: name, definition and the convention or reference it follows."""

    name: str
    definition: str
    source: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    terms: tuple[Term, ...]


BTYD = "Fader, Hardie & Lee (2005), “Counting your customers the easy way”"
CENTRICITY = "Fader (2012), Customer Centricity"
CUSTORA = "Custora's customer-centric KPIs"

BASICS = Section(
    "Basics",
    (
        Term(
            "Purchase occasion",
            "A day on which a customer bought at least once (in the shop's time zone); two orders "
            "on one day count as one occasion. Returns are never occasions.",
            BTYD,
        ),
        Term(
            "As-of date",
            "Everything is computed with the data up to the end of this day, as if the report "
            "had been run then; nothing later is read.",
        ),
        Term(
            "Last 12 months (window)",
            "The 365 days ending on the as-of date. The year before is the 365 days before that.",
        ),
        Term(
            "Acquisition channel",
            "The channel of a customer's first purchase order (web, store, app, marketplace, …); "
            "“unknown” when that order has none.",
        ),
        Term(
            "Net revenue",
            "Purchase revenue (after discounts) minus refunds of returns. Money is shown in the "
            "workspace currency.",
        ),
    ),
)

KPIS = Section(
    "Customer KPIs",
    (
        Term("Active customers", "Customers with a purchase occasion in the last 12 months."),
        Term("New customers", "Active customers whose first purchase is in the last 12 months."),
        Term(
            "Lost customers",
            "Customers who bought in the year before but not in the last 12 months.",
        ),
        Term(
            "Retention rate",
            "Of the customers active in the year before, the share who bought again in the last "
            "12 months. Attrition rate is one minus retention.",
            "Period-over-period customer retention",
        ),
        Term(
            "Leaky-bucket ratio",
            "Lost customers divided by new customers. Above 1 the customer base shrinks: more "
            "customers lapse than are won.",
            "Ehrenberg's “leaky bucket” view of customer loss",
        ),
        Term(
            "Repeat customers",
            "Share of all customers so far with two or more purchase occasions; the rest are "
            "one-and-done buyers.",
            CUSTORA,
        ),
        Term(
            "Early repeat rate",
            "Of the customers acquired in a 12-month span ending 90 days before the as-of date "
            "(so all had 90 days), the share whose second purchase came within 90 days of the "
            "first. A leading indicator: it moves long before lifetime value does.",
            CUSTORA,
        ),
        Term(
            "Days to second purchase",
            "Median days from first to second purchase occasion, over customers who made one.",
        ),
        Term("Revenue", "Purchase revenue in the last 12 months, returns not deducted."),
        Term("Average order value", "Revenue divided by purchase orders in the last 12 months."),
        Term("Orders per customer", "Purchase orders per active customer in the last 12 months."),
        Term("Return rate", "Refunds dated in the last 12 months divided by revenue."),
        Term(
            "Top 10% share",
            "Share of the last 12 months' revenue from the top tenth of active customers ranked "
            "by their revenue.",
        ),
        Term(
            "12-month CLV",
            "Historical customer lifetime value: mean net revenue in the first 365 days after the "
            "first purchase, over customers acquired 12 to 24 months before the as-of date.",
            CENTRICITY,
        ),
    ),
)

COHORTS = Section(
    "Cohorts, concentration and CLV curves",
    (
        Term(
            "Cohort",
            "Customers grouped by the month (or season) of their first purchase. A cohort's age "
            "is the number of periods since then; age 0 is the acquisition period.",
            "Acquisition cohort analysis",
        ),
        Term(
            "Cohort retention",
            "Share of a cohort buying in the period at a given age. The period holding the "
            "as-of date is left out of the charts when it is only partly observed.",
        ),
        Term(
            "Retail seasons",
            "Winter (Jan–Feb), spring (Mar–May), summer (Jun–Aug), autumn (Sep–Oct) and holiday "
            "(Nov–Dec), so one holiday's acquisitions can be compared with the previous one's.",
        ),
        Term(
            "Pareto curve",
            "Share of the last 12 months' revenue (vertical) brought by the top share of active "
            "customers (horizontal). The further above the diagonal, the more concentrated.",
            "Pareto's 80/20 principle, drawn as a Lorenz curve",
        ),
        Term(
            "CLV curve by acquisition channel",
            "Cumulative net revenue per acquired customer by months since the first purchase. "
            "Each month averages only the customers old enough to have lived it.",
            CENTRICITY,
        ),
    ),
)

STAGES_SECTION = Section(
    "Lifecycle stages",
    (
        Term(
            "Purchase cycle",
            "A customer's own mean gap between purchase occasions, pulled toward the typical "
            "(median) time to a second purchase; for one-time buyers it is that typical gap.",
            "Shrinkage toward the population, in the spirit of empirical Bayes",
        ),
        Term("First-time", "One purchase occasion so far, within two purchase cycles."),
        Term("Repeat active", "Two or more occasions, last one within two purchase cycles."),
        Term(
            "Defecting",
            "Last purchase more than two and up to four purchase cycles ago: still winnable.",
        ),
        Term("Inactive", "Last purchase more than four purchase cycles ago."),
        Term("New customers (flows)", "Customers whose first purchase is after the flow start."),
    ),
)

MEANINGS = {
    "Champions": "Bought very recently and buy often or spend a lot: your best customers.",
    "Loyal": "Buy often and spend well, though not always the most recent buyers.",
    "Potential loyalists": "Recent buyers with middling frequency and spend; nurture them.",
    "New": "Very recent first purchase, little history yet.",
    "Promising": "Recent, but still low frequency and spend.",
    "Need attention": "Middling recency with low to middling value; slipping if ignored.",
    "Can't lose them": "Were among the most valuable but have not bought for a long time.",
    "At risk": "Good customers whose purchases are getting long ago.",
    "Hibernating": "Low value and long since their last purchase.",
    "Lost": "Lowest recency and value.",
}


def segment_terms() -> tuple[Term, ...]:
    """RFM scores, then each segment with its meaning and the grid cells it covers."""
    scores = Term(
        "RFM scores",
        "Recency (days since the last purchase), frequency (purchase occasions) and monetary "
        "value (net revenue to date), each scored 1–5 by quintile, 5 best. Tied customers share "
        "a score, so all one-time buyers get F = 1. FM is the rounded mean of F and M.",
        "Hughes (1994), Strategic Database Marketing",
    )
    return (scores, *(Term(n, f"{MEANINGS.get(n, '')} {_cells(n)}".strip()) for n in SEGMENTS))


def _cells(name: str) -> str:
    """``R 5 & FM 4–5; R 4 & FM 5``: the grid cells the rules give this segment."""
    parts = [f"R {_span(rs)} & FM {_span(fms)}" for n, rs, fms in RULES if n == name]
    return f"(Cells: {'; '.join(parts)}.)"


def _span(scores: tuple[int, ...]) -> str:
    return str(scores[0]) if len(scores) == 1 else f"{scores[0]}–{scores[-1]}"


def sections() -> list[Section]:
    """The glossary in reading order."""
    segments = Section("RFM segments", segment_terms())
    return [BASICS, KPIS, COHORTS, segments, STAGES_SECTION]
