"""The defaults and choices the Python API and the command line share, named once.

This module imports nothing: the CLI builds every option (and ``patron --help``) from it without
loading the engine, numpy or scipy, which a command imports only when it runs.
"""

from __future__ import annotations

ENV_VAR = "PATRON_WORKSPACE"
"""The environment variable naming the workspace folder when ``--workspace`` is not given."""

PREDICT_MODEL = "mbgnbd"
"""Scoring's default: BG/NBD holds every one-time buyer alive for ever (P(alive) = 1), which
would call a customer who bought once, years ago, active; MBG/NBD lets them drop out at once."""

TARGET_RATIO = 3.0
"""The CLV:CAC ratio acquisition guidance aims for (the rule of thumb of 3:1)."""

MONTHS = 12
"""Acquisition months reported by default: a year of cohorts, the as-of month included."""

ALL = "all"
"""The audience of every customer (instead of a segment or a file of identifiers)."""

ORDER_METRICS = ("conversion", "orders", "revenue", "margin", "aov", "returns")
EVENT_METRICS = ("unsubscribe",)
METRICS = (*ORDER_METRICS, *EVENT_METRICS)
"""An experiment's goal metrics: read from orders, or from events."""

K = 10
"""Products recommended per customer."""

RECENT_DAYS = 30
"""Items bought in this many days are left out of a customer's recommendations."""
