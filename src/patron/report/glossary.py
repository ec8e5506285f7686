"""What every number in the report means, and the convention or paper it follows.

Why in the report: a marketer forwarding a chart should not have to look up what "leaky-bucket
ratio" or "Hibernating" means. The wording restates the definitions of :mod:`patron.metrics`,
:mod:`patron.segments` and :mod:`patron.predict` for a business reader; the segment cells, the
churn-risk cut-offs and the validation split come from the code itself, so the glossary cannot
drift from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from patron.defaults import PREDICT_MODEL, TARGET_RATIO
from patron.predictions import ALIVE_AT_RISK, ALIVE_LOST, Horizon
from patron.report.model_data import MAX_HOLDOUT_DAYS, MIN_SPAN_DAYS
from patron.report.theme import MODEL_LABELS
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
PURCHASE_MODELS = (
    f"BG/NBD: {BTYD}; MBG/NBD: Batislam, Denizel & Filiztekin (2007), “Empirical validation and "
    "comparison of models for customer base analysis”; Pareto/NBD: Schmittlein, Morrison & "
    "Colombo (1987), “Counting your customers: who are they and what will they do next?”"
)
CENTRICITY = "Fader (2012), Customer Centricity"
CUSTORA = "Custora's customer-centric KPIs"

BASICS = Section(
    "Basics",
    (
        Term(
            "Purchase occasion",
            "A day on which a customer bought at least once (in the shop's time zone); two orders "
            "on one day count as one occasion. Returns and cancelled orders (never paid) are "
            "never occasions.",
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
            "The channel of a customer's first purchase occasion: of the earliest purchase order "
            "that day (web, store, app, marketplace, …); “unknown” when that order has none. A "
            "customer's later orders in any channel count for it.",
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


HORIZON = f"{Horizon().periods} weeks"

PREDICTIONS = Section(
    "Predicted customer value",
    (
        Term(
            "Purchase models",
            "BG/NBD, MBG/NBD and Pareto/NBD: while alive, each customer buys at their own steady "
            "rate, until they silently stop. They read each customer's frequency (repeat purchase "
            "occasions), recency (time from the first to the last) and T (time since the first). "
            "BG/NBD lets a customer stop only after a repeat purchase, so it keeps every one-time "
            "buyer alive; MBG/NBD lets them stop after the first purchase too; Pareto/NBD at any "
            f"moment. Predictions use {MODEL_LABELS[PREDICT_MODEL]} unless set otherwise.",
            PURCHASE_MODELS,
        ),
        Term(
            "P(alive)",
            "The probability that a customer has not silently stopped by the as-of date, given "
            "their frequency, recency and T: a frequent buyer who has been quiet for long is less "
            "likely alive than an occasional one who has been quiet as long.",
            PURCHASE_MODELS,
        ),
        Term(
            "Expected purchases",
            f"Purchase occasions a customer is expected to make in the horizon ({HORIZON} unless "
            "set otherwise), given their history: P(alive) times what a customer still alive "
            "would buy.",
            f"{BTYD}, the conditional expectation (eq. 10)",
        ),
        Term(
            "P(purchase)",
            "The probability of at least one purchase in the horizon: P(alive) times the chance "
            "that a customer still alive buys in it.",
            PURCHASE_MODELS,
        ),
        Term(
            "Next purchase date",
            "The as-of date plus the median wait until the next purchase of a customer who is "
            "still alive: the day by which they are as likely as not to have bought again, if "
            "they have not stopped. Read it with P(alive).",
            "The median of the models' Gamma-mixed Poisson (Lomax) wait",
        ),
        Term(
            "Predicted CLV",
            "Margin × expected spend per purchase × the purchases expected in each period of the "
            "horizon, each discounted by (1 + d)^k at the discount rate d per period: the "
            "discounted margin of the horizon, not of a whole lifetime. The expected spend pulls "
            "a customer's own mean repeat spend toward everyone's, the more so the fewer "
            "purchases it rests on.",
            "Gamma-Gamma spend: Fader & Hardie (2013), “The Gamma-Gamma model of monetary "
            "value”; discounted expected transactions: Fader, Hardie & Lee (2005), “RFM and "
            "CLV”, cut at the horizon",
        ),
        Term(
            "90% band",
            "The range a prediction lies in with 90% confidence given how precisely the data "
            "pin down the model's parameters; not the spread between customers. A CLV band "
            "combines the bands of purchases and spend, which come from separate fits, so it "
            "errs wide.",
            "Delta method on the fitted parameters' asymptotic covariance",
        ),
        Term(
            "Customer equity",
            "The sum of the predicted CLV of every customer: what today's customer base is "
            "expected to be worth over the horizon.",
            "Blattberg & Deighton (1996), “Manage marketing by the customer equity test”",
        ),
        Term(
            "Churn risk",
            f"Active: P(alive) of {ALIVE_AT_RISK:.0%} or more; at risk: from {ALIVE_LOST:.0%} "
            f"to {ALIVE_AT_RISK:.0%}; likely lost: below {ALIVE_LOST:.0%}.",
            "patron's cut-offs on P(alive)",
        ),
        Term(
            "Predicted value tiers",
            "The top 20% of customers by predicted CLV, the next 30% and the bottom 50% (ties "
            "broken by customer key).",
            "patron's tiers, after Pareto's 80/20",
        ),
        Term(
            "Holdout validation",
            "Each model is fitted on the purchases up to a calibration end and predicts each "
            "customer's purchases after it, up to the as-of date (the holdout). The report holds "
            f"out the last {MAX_HOLDOUT_DAYS // 7} weeks, or the last third of the history when "
            f"that is shorter, and skips the check with less than {MIN_SPAN_DAYS // 7} weeks. "
            "The tracking chart (cumulative repeat purchases, with the naive baseline over the "
            "holdout) and holdout purchases by past frequency (conditional expectations) are "
            "the paper's checks.",
            BTYD,
        ),
        Term(
            "Holdout MAE",
            "Mean absolute error: the mean over customers of the gap between their predicted "
            "and actual holdout purchases. Lower is better; the best model has the lowest.",
        ),
        Term(
            "Correlation",
            "Pearson correlation of predicted and actual holdout purchases over customers: 1 "
            "when the predictions line up with what customers did, 0 when they say nothing "
            "of it; missing (–) when every calibration customer made as many holdout purchases "
            "as the next, none for instance.",
            "Pearson (1895)",
        ),
        Term(
            "Customers by repeat purchases",
            "How many customers made 0, 1, 2 … repeat purchases in the calibration period, "
            "against each model's expectation: the sum over customers of the model's chance "
            "that one observed that long since the first purchase made exactly that many "
            "(computed, not simulated). It checks the fit to the period the model saw, where "
            "the holdout checks the forecast.",
            f"{BTYD}, eq. 8; lifetimes' plot_period_transactions",
        ),
        Term(
            "Naive baseline",
            "Predicts each customer's holdout purchases from their past repeat rate (frequency ÷ "
            "T) carried forward: a model earns its keep only by beating it.",
        ),
        Term(
            "BIC",
            "Bayesian information criterion: k ln n − 2 ln L for k parameters, n customers and "
            "the calibration log-likelihood ln L. Lower is better; it compares models fitted on "
            "the same customers, penalising extra parameters.",
            "Schwarz (1978), “Estimating the dimension of a model”",
        ),
    ),
)

RATIO = f"{TARGET_RATIO:g}:1"
ACQUISITION = Section(
    "Acquisition guidance",
    (
        Term(
            "New customers (acquisition)",
            "The customers a channel acquired: those whose first purchase occasion came "
            "through it, by the as-of date in the channels table and within each month in "
            "the monthly chart (not only the last 12 months' new customers of the KPIs).",
        ),
        Term(
            "Acquisition month",
            "The calendar month of a customer's first purchase occasion, in the shop's time zone.",
        ),
        Term(
            "Lifetime value",
            "What a new customer brings from their acquisition to the end of the horizon: their "
            "net revenue to date, the acquisition order included, plus their predicted CLV, "
            "averaged over a channel's new customers. The predicted CLV alone is only what is "
            "still to come and leaves out the acquisition order, often most of a customer's "
            "value. In the segment and stage tables, lifetime value is the net revenue to date.",
        ),
        Term(
            "First year",
            "Net revenue per customer in the first 365 days after the acquisition, over the "
            "customers acquired at least a year ago: the observed check on the prediction.",
        ),
        Term(
            "CAC",
            "Customer acquisition cost: what a channel spent on acquisition in a period divided "
            "by the customers it acquired in it. It needs a spend file: "
            "patron acquisition --spend FILE.",
        ),
        Term(
            "CLV:CAC",
            "Lifetime value divided by CAC: what a new customer brings for each unit spent to "
            f"acquire them. {RATIO} is the usual target; missing, never 0, without a CAC.",
        ),
        Term(
            "Max CAC",
            f"Lifetime value divided by the target CLV:CAC ratio ({RATIO} unless set with "
            "--target-ratio): the most a new customer may cost. A customer should bring three "
            "times their cost, to pay for overheads and for the uncertainty of the prediction. "
            "On net revenue, as in this report, it is too generous by the cost of goods: "
            "patron acquisition --margin puts it in margin.",
            f"The {RATIO} CLV:CAC rule of thumb",
        ),
        Term(
            "Payback",
            "The first month of a customer's life (365/12 days from the acquisition) by which the "
            "margin per customer acquired in a period reaches its CAC, each month averaged over "
            "the customers who have lived through it: observed, not predicted, and missing while "
            "it has not been reached.",
        ),
    ),
)


INSIGHTS = Section(
    "Customer insights",
    (
        Term(
            "Gap and step",
            "Days between two consecutive purchase days of one customer; its step is the "
            "purchase it leads from (1->2, 2->3, 3->4, 4+ pooled). Only gaps that ended by the "
            "as-of day count.",
        ),
        Term(
            "Nudge window",
            "Day 25th to 75th percentile of the 1->2 gaps: where half of the second purchases "
            "happen. The hazard is second purchases on a day over the customers still waiting "
            "and observed that long; its drop is the first week after the peak below half of it.",
            "Kaplan-Meier hazard (Kaplan & Meier 1958)",
        ),
        Term(
            "Next contact day",
            "Three days before the expected next purchase (the model's where predictions are "
            "stored, else the customer's own median gap when they have two or more, else the "
            "shop's median for their next step), and never before the day after the as-of day.",
        ),
        Term(
            "Affinity lift",
            "A group's mean share of purchases in an item over everyone's; the shrunk lift adds "
            "20 pseudo-buyers at the base rate so small groups stay near 1. Per customer, top "
            "categories rank their own shares shrunk towards the shop's mix.",
            "Empirical-Bayes shrinkage (Efron & Morris 1975)",
        ),
        Term(
            "Gateway",
            "A first-purchase channel or category, judged by the share of the customers it "
            "brought who bought again within 365 days (Wilson interval), ranked by the interval's "
            "lower end.",
            "Wilson (1927)",
        ),
        Term(
            "Discount sensitivity score",
            "A customer's expected share of purchases made on discount: their own share pulled "
            "towards the shop's by a beta-binomial prior fitted by the method of moments; bands "
            "low (< 1/3), medium and high (>= 2/3). An experiment's measured conversion lift "
            "from discount offers overrides a segment's observational band.",
            "Beta-binomial empirical Bayes; Kleinman (1973)",
        ),
        Term(
            "Repurchase interval",
            "Days between two purchase days of the same product by the same customer, pooled "
            "over the product's repeat buyers (at least 5): median and quartiles. A product is "
            "regular when (p75 - p25) / median is at most 0.5; a regular product is due for a "
            "buyer at their last purchase plus the median, unless they have gone longer than "
            "the p75 without it (lapsed).",
        ),
        Term(
            "Recommendation",
            "A customer's next best products: the items most bought together with theirs "
            "(cosine similarity of who bought what, shrunk for rare pairs and normalized per "
            "item), in stock, not bought in the last 30 days. A challenge offer pairs two "
            "products they buy again and again with one from a new, higher-value category.",
            "Item-based collaborative filtering (Sarwar et al. 2001; Deshpande & Karypis 2004)",
        ),
        Term(
            "Precision, recall and hit rate",
            "On purchases after a split day, for customers who bought before and after it: the "
            "share of the k recommended products they bought, the share of what they bought "
            "that was recommended, and the share of customers who bought one at least.",
        ),
        Term(
            "Ideal customer profile",
            "What the top 20% of customers by value looked like at their first purchase "
            "against everyone else: per feature level the difference in shares (Cohen's h), "
            "per number the standardized mean difference (Cohen's d).",
            "Cohen (1988)",
        ),
        Term(
            "NPS",
            "Per segment, the share of survey answers of 9 or 10 minus the share of 0 to 6, in "
            "points from -100 to 100, each customer's latest answer counted once.",
            "Reichheld (2003)",
        ),
    ),
)

EXPERIMENTS = Section(
    "Experiments",
    (
        Term(
            "Assignment",
            "Each customer's group comes from the first 48 bits of md5(salt:customer key) as a "
            "point in [0, 1), cut into slices sized by the groups' shares (holdout first): "
            "random, stable across runs and machines, and unrelated between experiments with "
            "different salts (by default the experiment's name).",
            "Salted hashing, as GrowthBook and most experimentation platforms assign",
        ),
        Term(
            "Baseline",
            "The group the others are compared against: the holdout (customers who got nothing) "
            "when there is one, else the first variant. Its own lift is 0.",
        ),
        Term(
            "Window",
            "Outcomes count from each customer's exposure for the declared number of days, cut "
            "at the data's last day while the test runs. Every exposed customer counts, buyers "
            "or not, so the groups stay the randomized ones; left out are customers exposed "
            "after the data end (no window yet), a person assigned to two groups under keys "
            "later merged, and keys dissolved since (their rows belong to no one).",
        ),
        Term(
            "Lift and relative lift",
            "The difference of the group means (treatment minus baseline), and that difference "
            "divided by the baseline's mean. Intervals: Welch's t for means, the unpooled "
            "two-proportion z for rates; the relative interval by the delta method. Ratio "
            "metrics (revenue per order) use the delta method for their variance.",
            "Welch (1947); Deng, Knoblich & Lu (2018), “Applying the delta method in metric "
            "analytics”",
        ),
        Term(
            "p-value",
            "The chance of a lift at least this large if the groups truly did equally well. "
            "With several treatments, p-values are Holm-adjusted and intervals "
            "Bonferroni-widened, so the family's false-alarm rate stays at alpha.",
            "Holm (1979)",
        ),
        Term(
            "Chance to beat and expected loss",
            "The Bayesian reading of the same data under a flat prior (Gaussian approximation): "
            "the probability that the treatment is better than the baseline, and the average "
            "shortfall, in metric units, of shipping it if it is not.",
            "As GrowthBook's Bayesian engine reports them",
        ),
        Term(
            "Sample ratio mismatch",
            "A chi-square test of the groups' sizes against the shares the design set. Below "
            "p = 0.001 something other than chance decided who was counted (a broken send, a "
            "filter after assignment), so the verdict is blocked.",
            "Fabijan et al. (2019), “Diagnosing sample ratio mismatch in online controlled "
            "experiments”",
        ),
        Term(
            "CUPED",
            "Variance reduction: each customer's outcome is adjusted by the same metric in the "
            "year before exposure, with one slope pooled over the groups. Randomization makes "
            "the adjustment average out, so the lift is unchanged in expectation and its "
            "interval narrower by about the squared correlation of before and after.",
            "Deng, Xu, Kohavi & Walker (2013), “Improving the sensitivity of online controlled "
            "experiments by utilizing pre-experiment data”",
        ),
        Term(
            "Sequential testing",
            "Always-valid confidence sequences: intervals that hold at every look at once, so "
            "a test may be checked daily and stopped when the interval clears zero without "
            "inflating false positives (fixed intervals checked daily would). They are wider "
            "than fixed ones, most at the start.",
            "Waudby-Smith et al. (2023), “Time-uniform central limit theory and asymptotic "
            "confidence sequences”, as GrowthBook applies them",
        ),
        Term(
            "Verdict",
            "Declared success when a treatment is significantly better; declared failure when "
            "significantly worse; no detectable effect when every group already had the "
            "customers to detect the smallest change worth finding (5% by default) with 80% "
            "power; else inconclusive, with the customers still needed. A sample ratio mismatch "
            "blocks every verdict; a guardrail (unsubscribes, returns) that rose is named.",
        ),
        Term(
            "Incremental value",
            "For money metrics: the lift per customer times the audience size (times the "
            "horizon over the window, when a longer horizon is asked): what the treatment would "
            "add if the whole audience got it, with its interval.",
        ),
    ),
)


def sections() -> list[Section]:
    """The glossary in reading order."""
    segments = Section("RFM segments", segment_terms())
    return [
        BASICS,
        KPIS,
        COHORTS,
        segments,
        STAGES_SECTION,
        PREDICTIONS,
        ACQUISITION,
        INSIGHTS,
        EXPERIMENTS,
    ]
