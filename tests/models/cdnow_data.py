"""The CDNOW sample as per-customer (x, t_x, T) in weeks, as Fader, Hardie & Lee (2005) fit it.

A transaction is a distinct customer-day; the calibration period ends 1997-09-30 (39 weeks after
the first cohort's start); x counts calibration days after the first, t_x and T are weeks from the
first purchase day to the last calibration purchase and to the calibration end.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from functools import cache

import numpy as np

from patron.samples.cdnow import read_rows

CALIBRATION_END = date(1997, 9, 30)


@cache
def cdnow_weeks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequency, recency, T) of the 2,357 sample customers."""
    days: dict[str, set[date]] = defaultdict(set)
    for customer, day, _cds, _dollars in read_rows(sample=True):
        days[customer].add(date.fromisoformat(day))
    x, t_x, big_t = [], [], []
    for bought in days.values():
        kept = sorted(d for d in bought if d <= CALIBRATION_END)
        x.append(len(kept) - 1)
        t_x.append((kept[-1] - kept[0]).days / 7)
        big_t.append((CALIBRATION_END - kept[0]).days / 7)
    return np.array(x, dtype=float), np.array(t_x), np.array(big_t)


@cache
def cdnow_spend() -> tuple[np.ndarray, np.ndarray]:
    """Per sample customer: repeat days in the calibration period and their mean spend (0 for
    none), the aggregation that reproduces Fader & Hardie's Gamma-Gamma fit."""
    spend: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    for customer, day, _cds, dollars in read_rows(sample=True):
        if day <= CALIBRATION_END.isoformat():
            spend[customer][day] += float(dollars)
    frequency, monetary = [], []
    for by_day in spend.values():
        repeat = [by_day[day] for day in sorted(by_day)[1:]]
        frequency.append(len(repeat))
        monetary.append(float(np.mean(repeat)) if repeat else 0.0)
    return np.array(frequency), np.array(monetary)
