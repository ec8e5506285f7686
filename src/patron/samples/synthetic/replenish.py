"""Replenishment: consumables bought again after a known interval, inside orders already drawn.

Why: the replenishment insight needs products whose repurchase interval is known. Orders' times,
amounts and counts come from the BG/NBD and gamma-gamma draws, and every order-level test and
model recovery rests on them, so a repurchase never adds an order: it takes a line of an order
the person places anyway.

- A *replenishable* product is a consumable, its noun in ``REPLENISH_DAYS``. Its interval I is
  the noun's days times a lognormal factor (``REPLENISH_SKU_SPREAD``), in whole days. Everything
  here draws from a stream of its own (``Refills.rng``), so the main one, and every file but
  ``order_lines.csv``, stay as they were.
- Consumables are bought again only when due: a line that repeats a consumable the person bought
  on an earlier day (a chance draw by popularity) is redrawn, by popularity, among its category's
  other products until it is not a consumable (``catalog._refill``). Left in, these chance
  repeats (gaps of any length, mostly far longer than I: most people buy a few times a year)
  would outnumber the planted ones and hide I.
- A person's *staple* in a category is the first consumable they buy in it. After each purchase
  of it on day L, the next one is *planted* in their order nearest to day L + I (the earlier on
  a tie) that is within w I of it (w = ``REPLENISH_WINDOW``) and has a line of the category:
  that order's first such line becomes the staple (the refill is what the order bought there).
  With no such order the chain ends: they stopped, or buy it elsewhere now. Nearest rather than
  first in the window, so planted intervals centre on I. Other consumables are bought once.
- A planted line keeps its category and quantity, and unit prices are scaled to the order's
  gross afterwards as for any line, so orders and category mixes do not change. One staple per
  person and category means two chains never compete for a line.
"""

from __future__ import annotations

import numpy as np

from patron.samples.synthetic.model import Array, Catalog, Refills, Rows
from patron.samples.synthetic.params import (
    CATEGORIES,
    DAY,
    REPLENISH_DAYS,
    REPLENISH_SKU_SPREAD,
    REPLENISH_WINDOW,
)


def draw_refills(rng: np.random.Generator, catalog: Catalog) -> Refills:
    """Each product's interval in days (0 where it is not replenished), and ``rng`` to plant."""
    base = [next((d for n, d in REPLENISH_DAYS.items() if s.endswith(n)), 0) for s in catalog.name]
    factor = np.exp(rng.normal(0.0, REPLENISH_SKU_SPREAD, len(base)))
    return Refills(np.rint(np.array(base) * factor).astype(np.int64), rng)


def repeats(product: Array, person: Array, day: Array, days: Array) -> Array:
    """Lines of a consumable their person bought on an earlier day (lines in time order)."""
    _, first, group = np.unique(
        person * days.size + product, return_index=True, return_inverse=True
    )
    return (days[product] > 0) & (day > day[first][group])


def plant(product: Array, of: Array, orders: Rows, catalog: Catalog, days: Array) -> Array:
    """The lines' products with every staple's refills planted, one refill per round.

    ``of`` is each line's order; lines follow the orders, which are sorted by time, so a
    group's first line is its earliest.
    """
    day = orders.time[of] // DAY
    day -= day.min()
    width = int(day.max()) + 1
    cat = catalog.category[product]
    kind = orders.person[of] * len(CATEGORIES) + cat
    _, first = np.unique(of * len(CATEGORIES) + cat, return_index=True)  # per order and category
    slots = _Slots(kind[first] * width + day[first], first, width)
    consumed = np.flatnonzero(days[product] > 0)
    chain = consumed[np.unique(kind[consumed], return_index=True)[1]]  # each staple's first line
    last, planted = day[chain], product.copy()
    while chain.size:
        interval = days[product[chain]]
        slot = slots.nearest(kind[chain], last + interval, REPLENISH_WINDOW * interval)
        found = slot >= 0
        chain, slot = chain[found], slot[found]
        planted[slot] = product[chain]
        last = day[slot]
    return planted


class _Slots:
    """Lines by (group, day), packed in one sorted int64 key group * width + day, so one
    ``searchsorted`` finds every chain's nearest line at once."""

    def __init__(self, keys: Array, lines: Array, width: int) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys, self.lines, self.width = keys[order], lines[order], width

    def nearest(self, group: Array, target: Array, radius: Array) -> Array:
        """Each group's line nearest to day ``target`` (the earlier on a tie) within ``radius``
        days of it; -1 where there is none."""
        at = np.minimum(target, self.width - 1)  # a later key would be the next group's
        i = np.searchsorted(self.keys, group * self.width + at)
        best, gap = np.full(group.size, -1), np.full(group.size, np.inf)
        for j in (i - 1, i):  # the group's last line before the target, its first from it on
            inside = (j >= 0) & (j < self.keys.size)
            j = np.clip(j, 0, self.keys.size - 1)
            off = np.abs(self.keys[j] % self.width - target)
            better = inside & (self.keys[j] // self.width == group) & (off <= radius) & (off < gap)
            best = np.where(better, self.lines[j], best)
            gap = np.where(better, off, gap)
        return best
