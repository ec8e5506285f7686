"""Catalog and order lines: products per category, popularity, affinities turned into lines."""

from __future__ import annotations

import numpy as np

from patron.samples.synthetic.model import Array, Catalog, People, Refills, Rows, Span
from patron.samples.synthetic.params import (
    ADJECTIVES,
    BRANDS_PER_CATEGORY,
    CATEGORIES,
    DAY,
    IN_STOCK_SHARE,
    LINE_VALUE_CENTS,
    MAX_LINES,
    MAX_QUANTITY,
    PRE_LAUNCHED_SHARE,
    PRODUCTS_PER_CATEGORY,
    REDRAWS,
)
from patron.samples.synthetic.replenish import plant, repeats


def draw_catalog(rng: np.random.Generator, span: Span) -> Catalog:
    """Products per category with brands, prices around the category median, launch dates.

    Products are numbered in category order; each category keeps its members and a cumulative
    popularity (Zipf-like, so a few products sell most) for drawing order lines.
    """
    cols: dict[str, list] = {k: [] for k in ("sku", "name", "cat", "brand", "price", "day")}
    members, popularity = [], []
    for c, spec in enumerate(CATEGORIES):
        products = _category_products(rng, spec, span)
        m = len(products["sku"])
        members.append(np.arange(m) + len(cols["sku"]))
        weight = 1.0 / (1.0 + rng.permutation(m)) ** 0.9
        popularity.append(np.cumsum(weight) / weight.sum())
        for key, values in products.items():
            cols[key] += values
        cols["cat"] += [c] * m
    return Catalog(
        sku=cols["sku"],
        name=cols["name"],
        category=np.array(cols["cat"]),
        brand=np.array(cols["brand"], dtype=object),
        price=np.array(cols["price"]),
        launched=np.array(cols["day"]),
        in_stock=rng.random(len(cols["sku"])) < IN_STOCK_SHARE,
        members=members,
        popularity=popularity,
    )


def _category_products(
    rng: np.random.Generator, spec: tuple[str, str, float, float, tuple, tuple], span: Span
) -> dict[str, list]:
    """One category's skus, names, brands, prices (cents, ending in .99) and launch days.

    The first product is launched before the period, so every order can always find a product
    on sale; the rest launch before it or during it (new arrivals).
    """
    _, code, _, median, brands, nouns = spec
    m = int(rng.integers(*PRODUCTS_PER_CATEGORY))
    used = brands[: int(rng.integers(*BRANDS_PER_CATEGORY))]
    brand = [used[b] for b in rng.integers(0, len(used), m).tolist()]
    a = len(ADJECTIVES)
    combo = rng.permutation(a * len(nouns))[:m].tolist()
    dollars = np.exp(rng.normal(np.log(median), 0.45, m))
    start_day, end_day = span.first // DAY, span.last // DAY
    pre = rng.random(m) < PRE_LAUNCHED_SHARE
    pre[0] = True
    late = start_day + rng.integers(0, max(end_day - start_day - 30, 1), m)
    early = start_day - rng.integers(30, 1100, m)
    return {
        "sku": [f"{code}-{j + 1:04d}" for j in range(m)],
        "name": [
            f"{b} {ADJECTIVES[k % a]} {nouns[k // a]}" for b, k in zip(brand, combo, strict=True)
        ],
        "brand": brand,
        "price": (np.maximum(np.ceil(dollars), 1) * 100 - 1).astype(np.int64).tolist(),
        "day": np.where(pre, early, late).tolist(),
    }


def _pick_products(rng: np.random.Generator, catalog: Catalog, cat: Array, day: Array) -> Array:
    """A product per line: by popularity within the line's category, launched by the order day.

    Draws that hit a product not yet launched are redrawn a few times, then fall back to the
    category's first product, which is always launched before the period.
    """
    product = np.zeros(cat.size, dtype=np.int64)
    for c in range(len(CATEGORIES)):
        todo = np.flatnonzero(cat == c)
        for _ in range(5):
            pick = np.searchsorted(catalog.popularity[c], rng.random(todo.size), side="right")
            product[todo] = catalog.members[c][np.minimum(pick, catalog.members[c].size - 1)]
            todo = todo[catalog.launched[product[todo]] > day[todo]]
        product[todo] = catalog.members[c][0]
    return product


def _refill(refills: Refills, catalog: Catalog, product: Array, of: Array, orders: Rows) -> Array:
    """Chance repeats of consumables redrawn, then staples' refills planted (see
    :mod:`~patron.samples.synthetic.replenish`); draws only from ``refills.rng``."""
    product, day = product.copy(), orders.time[of] // DAY
    todo = np.flatnonzero(repeats(product, orders.person[of], day, refills.days))
    kept = product[todo]
    for _ in range(REDRAWS):
        product[todo] = _pick_products(refills.rng, catalog, catalog.category[kept], day[todo])
        again = refills.days[product[todo]] > 0
        todo, kept = todo[again], kept[again]
    product[todo] = kept
    return plant(product, of, orders, catalog, refills.days)


def draw_lines(
    rng: np.random.Generator, orders: Rows, people: People, catalog: Catalog, refills: Refills
) -> dict:
    """Order lines whose amounts add up to the order (within rounding of unit prices).

    Categories follow the person's affinity; quantities grow when the order is worth several
    times the catalog prices; then consumables are bought again only when due (``_refill``);
    unit prices are scaled so the lines' gross equals the order's gross, and the order discount
    is spread over its lines in proportion to their value.
    """
    n = orders.person.size
    gross = orders.extra["revenue"] + orders.extra["discount"]
    count = np.clip(1 + rng.poisson(gross / LINE_VALUE_CENTS), 1, MAX_LINES)
    of = np.repeat(np.arange(n), count)
    cumulative = np.cumsum(people.affinity, axis=1)[orders.person[of]]
    cat = np.minimum((rng.random(of.size)[:, None] > cumulative).sum(axis=1), len(CATEGORIES) - 1)
    product = _pick_products(rng, catalog, cat, orders.time[of] // DAY)
    scale = (gross / np.bincount(of, weights=catalog.price[product], minlength=n))[of]
    extra = rng.binomial(np.maximum(np.rint(2 * (scale - 1)), 0).astype(np.int64), 0.5)
    quantity = np.minimum(1 + extra, MAX_QUANTITY)
    product = _refill(refills, catalog, product, of, orders)
    price = catalog.price[product]
    value = np.bincount(of, weights=price * quantity, minlength=n)
    unit = np.maximum(np.rint(price * (gross / value)[of]), 1).astype(np.int64)
    line_gross = unit * quantity
    share = line_gross / np.bincount(of, weights=line_gross, minlength=n)[of]
    discount = np.floor(orders.extra["discount"][of] * share).astype(np.int64)
    starts = np.cumsum(count) - count
    allocated = np.rint(np.bincount(of, weights=discount, minlength=n)).astype(np.int64)
    discount[starts] += orders.extra["discount"] - allocated
    line_no = np.arange(of.size) - starts[of] + 1
    return {
        "of": of,
        "line": line_no,
        "product": product,
        "quantity": quantity,
        "unit": unit,
        "discount": discount,
    }
