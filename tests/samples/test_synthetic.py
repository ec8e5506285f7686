"""Tests of the synthetic retailer: determinism, file shapes, and that the files tell the truth.

Expected ranges are computed from the generating parameters (BG/NBD and gamma-gamma formulas,
module constants) and binomial or sample standard errors, not from magic numbers.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patron.errors import InputError
from patron.ingest import contract
from patron.samples import synthetic as syn
from patron.samples.synthetic import params

CUSTOMERS = 2000
SEED = 3
START, END = date(2022, 1, 1), date(2024, 12, 31)
HEADERS = {
    "orders": "order_id,customer_id,email,phone,loyalty_id,ordered_at,channel,revenue,discount,"
    "cost,currency,status,return_of",
    "order_lines": "order_id,line_id,sku,quantity,unit_price,discount,category,brand",
    "products": "sku,name,category,brand,price,launched_at,in_stock",
    "customers": "customer_id,email,phone,loyalty_id,name,birthday,signup_channel,signed_up_at,"
    "country,email_consent,sms_consent,push_consent",
    "events": "event_id,customer_id,email,phone,loyalty_id,occurred_at,type,campaign_id,channel,"
    "properties",
    "truth": "person_id,customer_id,email,phone,loyalty_id,acquisition_channel,acquired_at,lambda,"
    "p_dropout,dropped_at,mean_spend,discount_driven,top_category,linked,n_orders",
    "truth_products": "sku,replenish_days",
}
IDS = ("customer_id", "email", "phone", "loyalty_id")
SHARED = {"email:noreply@store.example", "phone:0000000000"}
MONEY = re.compile(r"^-?\d+\.\d{2}$")
LOCAL_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
UTC_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return syn.generate(tmp_path_factory.mktemp("a"), customers=CUSTOMERS, seed=SEED)


@pytest.fixture(scope="module")
def data(paths: dict[str, Path]) -> dict[str, pd.DataFrame]:
    return {k: pd.read_csv(p, dtype=str, keep_default_na=False) for k, p in paths.items()}


@pytest.fixture(scope="module")
def truth(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    t = data["truth"].copy()
    for col in ("lambda", "p_dropout", "mean_spend"):
        t[col] = t[col].astype(float)
    t["n_orders"] = t["n_orders"].astype(int)
    t["acquired"] = pd.to_datetime(t["acquired_at"])
    return t


def _hashes(paths: dict[str, Path]) -> dict[str, str]:
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items()}


def _phone_key(text: str) -> str:
    import phonenumbers

    if text == params.JUNK_PHONE:
        return text
    number = phonenumbers.parse(text, "US")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _keys(row: dict[str, str]) -> list[str]:
    """Normalized 'type:value' identifiers of a row (shared junk values included)."""
    keys = []
    for col in IDS:
        value = row[col]
        if not value:
            continue
        if col == "email":
            value = value.strip().lower()
        elif col == "phone":
            value = _phone_key(value)
        keys.append(f"{col}:{value}")
    return keys


@pytest.fixture(scope="module")
def keys(data: dict[str, pd.DataFrame]) -> dict[str, list[list[str]]]:
    """Per file with identifiers, each row's normalized identifiers."""
    names = ("orders", "customers", "events")
    return {n: [_keys(r) for r in data[n][list(IDS)].to_dict("records")] for n in names}


@pytest.fixture(scope="module")
def owner(truth: pd.DataFrame) -> dict[str, str]:
    """Normalized identifier -> person_id, from the truth's clean identifiers."""
    out = {}
    for col in IDS:
        for person, value in zip(truth["person_id"], truth[col], strict=True):
            if value:
                assert f"{col}:{value}" not in out, "an identifier belongs to two people"
                out[f"{col}:{value}"] = person
    return out


def _owners(keys: list[list[str]], owner: dict[str, str]) -> list[set[str]]:
    """The people a file's rows point at, through their non-shared identifiers."""
    return [{owner[k] for k in row if k not in SHARED} for row in keys]


def _owner_of(keys: list[list[str]], owner: dict[str, str]) -> list[str]:
    people = _owners(keys, owner)
    assert all(len(p) == 1 for p in people), "a row with no or several owners"
    return [next(iter(p)) for p in people]


def _expected_orders(truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD given each person's lambda, p and time T to the end of the period.

    E[orders] = 1 + (1 - exp(-lambda p T)) / p (capped), P(repeat) = 1 - exp(-lambda T).
    """
    horizon = pd.Timestamp(END) + pd.Timedelta(days=1)
    t_days = ((horizon - truth["acquired"]).dt.total_seconds() / params.DAY).to_numpy()
    lam, p = truth["lambda"].to_numpy(), truth["p_dropout"].to_numpy()
    expected = np.minimum(1 + (1 - np.exp(-lam * p * t_days)) / p, params.ORDER_CAP)
    return expected, 1 - np.exp(-lam * t_days)


def test_same_seed_gives_byte_identical_files(paths: dict[str, Path], tmp_path: Path) -> None:
    again = syn.generate(tmp_path, customers=CUSTOMERS, seed=SEED)
    assert set(again) == set(HEADERS)
    assert _hashes(again) == _hashes(paths)


def test_different_seed_gives_different_files(paths: dict[str, Path], tmp_path: Path) -> None:
    other = _hashes(syn.generate(tmp_path, customers=CUSTOMERS, seed=SEED + 1))
    mine = _hashes(paths)
    assert all(other[k] != mine[k] for k in ("orders", "customers", "events", "truth"))


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="customers"):
        syn.generate(tmp_path, customers=0)
    with pytest.raises(InputError, match="after start"):
        syn.generate(tmp_path, customers=10, start=END, end=START)
    with pytest.raises(InputError, match="seed must be 0 or more, got -1"):
        syn.generate(tmp_path, customers=10, seed=-1)


def test_headers_are_exact_and_in_the_contract(paths: dict[str, Path]) -> None:
    for name, path in paths.items():
        assert path.read_text(encoding="utf-8").split("\n", 1)[0] == HEADERS[name]
    targets = {"orders": "orders", "order_lines": "lines", "products": "products"}
    targets |= {"customers": "customers", "events": "events"}
    for name, table in targets.items():
        fields = set(contract.TABLES[table].field_names)
        assert set(HEADERS[name].split(",")) <= fields, name


def test_files_are_plain_utf8_csv(paths: dict[str, Path], data: dict[str, pd.DataFrame]) -> None:
    for name, path in paths.items():
        raw = path.read_bytes()
        assert b"\r" not in raw and raw.endswith(b"\n"), name
        rows = list(csv.reader(raw.decode("utf-8").splitlines()))
        assert {len(r) for r in rows} == {len(HEADERS[name].split(","))}, name
    names = data["customers"]["name"]
    assert names.str.contains(r"[\u0600-\u06FF]").any(), "no Persian/Arabic names"


def test_value_formats(data: dict[str, pd.DataFrame]) -> None:
    orders, lines = data["orders"], data["order_lines"]
    for col in ("revenue", "discount", "cost"):
        assert orders[col].str.match(MONEY).all(), col
    assert lines["unit_price"].str.match(MONEY).all()
    stamps = orders["ordered_at"]
    local, utc = stamps.str.match(LOCAL_TS), stamps.str.match(UTC_TS)
    assert (local | utc).all()
    assert 0.5 < local.mean() < 1 and utc.any()
    assert set(orders.loc[utc, "channel"]) == {"web"}
    assert data["events"]["occurred_at"].str.match(LOCAL_TS).all()
    assert pd.to_datetime(data["products"]["launched_at"], format="%Y-%m-%d").notna().all()
    for col in ("email_consent", "sms_consent", "push_consent"):
        assert set(data["customers"][col]) == {"true", "false", ""}
    assert set(orders["currency"]) == {"USD"}
    assert set(orders["status"]) == {"completed", "returned"}


def test_order_ids_unique(data: dict[str, pd.DataFrame]) -> None:
    ids = data["orders"]["order_id"]
    assert ids.is_unique
    assert ids.str.match(r"^[OR]\d{7}$").all()
    assert data["events"]["event_id"].is_unique


def test_every_order_maps_to_one_person_and_counts_match_truth(
    data: dict[str, pd.DataFrame], truth: pd.DataFrame, owner: dict[str, str], keys: dict
) -> None:
    orders = data["orders"]
    who = pd.Series(_owner_of(keys["orders"], owner), index=orders.index)
    purchases = orders["status"] == "completed"
    counts = who[purchases].value_counts()
    n_orders = truth.set_index("person_id")["n_orders"]
    assert counts.reindex(n_orders.index, fill_value=0).equals(n_orders)
    by_id = dict(zip(orders["order_id"], who, strict=True))
    returns = orders[~purchases]
    assert (returns["return_of"].map(by_id) == who[~purchases]).all()


def test_returns_refer_to_earlier_purchases(data: dict[str, pd.DataFrame]) -> None:
    orders = data["orders"]
    revenue = orders["revenue"].astype(float)
    purchase = orders["status"] == "completed"
    assert (revenue[purchase] >= 0).all() and (orders.loc[purchase, "return_of"] == "").all()
    returns = orders[~purchase]
    assert (revenue[~purchase] < 0).all()
    assert set(returns["return_of"]) <= set(orders.loc[purchase, "order_id"])
    assert returns["return_of"].is_unique
    # UTC-written rows are read as local here (off by <= 5 h); returns come days later
    when = pd.to_datetime(orders["ordered_at"].str[:19].str.replace("T", " "))
    when_of = dict(zip(orders["order_id"], when, strict=True))
    delay = when[~purchase] - returns["return_of"].map(when_of)
    assert (delay > pd.Timedelta(days=params.RETURN_DELAY_DAYS[0] - 1)).all()
    paid = dict(zip(orders["order_id"], revenue, strict=True))
    assert (-revenue[~purchase] <= returns["return_of"].map(paid) + 0.005).all()
    n = int(purchase.sum())
    share, se = len(returns) / n, np.sqrt(params.RETURN_SHARE * (1 - params.RETURN_SHARE) / n)
    assert params.RETURN_SHARE - 5 * se - 0.01 < share < params.RETURN_SHARE + 4 * se


def test_no_timestamp_outside_the_period(data: dict[str, pd.DataFrame]) -> None:
    first, last = pd.Timestamp(START), pd.Timestamp(END) + pd.Timedelta(days=1)
    stamps = [
        data["orders"]["ordered_at"].str[:19].str.replace("T", " "),
        data["events"]["occurred_at"],
        data["customers"]["signed_up_at"],
        data["truth"]["acquired_at"],
    ]
    for s in stamps:
        when = pd.to_datetime(s)
        assert when.min() >= first
        # UTC-written orders may run up to 5 hours past local midnight of the last day
        assert when.max() < last + pd.Timedelta(hours=5)
    assert pd.to_datetime(data["events"]["occurred_at"]).max() < last


def test_identifiers_normalize_to_the_truth(
    data: dict[str, pd.DataFrame], truth: pd.DataFrame, owner: dict[str, str], keys: dict
) -> None:
    phonenumbers = pytest.importorskip("phonenumbers")
    for name in ("orders", "customers", "events"):
        for text in set(data[name]["phone"]) - {"", params.JUNK_PHONE}:
            number = phonenumbers.parse(text, "US")
            assert phonenumbers.is_valid_number(number), text
            assert phonenumbers.region_code_for_number(number) == "US"
        for row in keys[name]:
            assert all(k in owner for k in row if k not in SHARED), "unknown identifier"
    phones = truth["phone"][truth["phone"] != ""]
    assert phones.str.match(r"^\+1\d{10}$").all()
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones)
    emails = truth["email"][truth["email"] != ""]
    assert (emails == emails.str.strip().str.lower()).all()
    raw = data["orders"]["email"]
    assert (raw != raw.str.strip().str.lower()).any(), "no messy emails"
    written = set(data["orders"]["phone"]) | set(data["customers"]["phone"])
    assert any(p.startswith("(") for p in written) and any(p.startswith("+1 ") for p in written)


def test_shared_identifiers_are_on_store_orders_of_many_people(
    data: dict[str, pd.DataFrame],
) -> None:
    orders = data["orders"][data["orders"]["status"] == "completed"]
    default = orders["email"] == params.STORE_DEFAULT_EMAIL
    assert set(orders.loc[default, "channel"]) == {"store"}
    assert orders.loc[default, "phone"].nunique() >= 2
    store = int((orders["channel"] == "store").sum())
    share = params.STORE_DEFAULT_SHARE
    assert abs(default.sum() / store - share) < 5 * np.sqrt(share * (1 - share) / store)
    junk = orders["phone"] == params.JUNK_PHONE
    assert junk.any() and (orders.loc[junk, "email"] != "").all()


def test_linked_flag_matches_the_identity_graph(truth: pd.DataFrame, keys: dict) -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index: dict[str, int] = {}
    edges = []
    for rows in keys.values():
        for row in rows:
            nodes = [index.setdefault(k, len(index)) for k in row if k not in SHARED]
            edges += [(nodes[0], k) for k in nodes]
    a, b = np.array(edges).T
    _, label = connected_components(
        coo_matrix((np.ones(a.size), (a, b)), shape=(len(index), len(index))), directed=False
    )
    for _, person in truth.iterrows():
        comps = {label[index[f"{c}:{person[c]}"]] for c in IDS if person[c]}
        assert (len(comps) == 1) == (person["linked"] == "true"), person["person_id"]
    linked = (truth["linked"] == "true").mean()
    assert 0.8 < linked < 1.0


def test_purchase_counts_follow_bgnbd(truth: pd.DataFrame) -> None:
    expected, repeat_p = _expected_orders(truth)
    n_orders = truth["n_orders"].to_numpy()
    se = n_orders.std() / np.sqrt(n_orders.size)
    assert abs(n_orders.mean() - expected.mean()) < 4 * se
    repeat = (n_orders >= 2).mean()
    se = np.sqrt(repeat_p.mean() * (1 - repeat_p.mean()) / n_orders.size)
    assert abs(repeat - repeat_p.mean()) < 4 * se
    assert n_orders.min() == 1 and n_orders.max() <= params.ORDER_CAP


def test_latent_parameters_follow_their_priors(truth: pd.DataFrame) -> None:
    channel = truth["acquisition_channel"].map(params.CHANNELS.index).to_numpy()
    lam = truth["lambda"].to_numpy() / params.CHANNEL_RATE_MULTIPLIER[channel]
    r, alpha = params.RATE_SHAPE, params.RATE_ALPHA
    assert abs(lam.mean() - r / alpha) < 4 * np.sqrt(r) / alpha / np.sqrt(lam.size)
    web = truth["p_dropout"].to_numpy()[channel == params.WEB]
    a, b = params.DROPOUT_A, params.DROPOUT_B
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert abs(web.mean() - a / (a + b)) < 4 * sd / np.sqrt(web.size)
    spend = truth["mean_spend"].to_numpy()
    population_mean = params.SPEND_P * params.SPEND_GAMMA / (params.SPEND_Q - 1)
    assert abs(np.median(spend) / population_mean - 1) < 0.35
    assert np.percentile(spend, 10) > 20 and np.percentile(spend, 90) < 200


def test_marketplace_customers_repeat_less(truth: pd.DataFrame) -> None:
    _, repeat_p = _expected_orders(truth)
    repeat = truth["n_orders"] >= 2
    market = (truth["acquisition_channel"] == "marketplace").to_numpy()
    web = (truth["acquisition_channel"] == "web").to_numpy()
    assert repeat_p[market].mean() < repeat_p[web].mean()
    assert repeat[market].mean() < repeat[web].mean()


def test_holiday_cohorts_are_bigger(truth: pd.DataFrame) -> None:
    month = truth["acquired"].dt.month
    holiday = month.isin([11, 12]).mean()
    days = pd.date_range(START, END, freq="D")
    growth = params.YEARLY_GROWTH ** (np.asarray((days - days[0]).days) / 365.25)
    month_of_day = np.asarray(days.month)
    weight = params.MONTH_WEIGHTS[month_of_day - 1] * growth
    expected = weight[month_of_day >= 11].sum() / weight.sum()
    se = np.sqrt(expected * (1 - expected) / len(truth))
    assert abs(holiday - expected) < 4 * se
    holiday_days = (month_of_day >= 11).mean()
    odds = holiday / holiday_days / ((1 - holiday) / (1 - holiday_days))
    assert odds > 1.5, "Nov-Dec should acquire clearly more people per day than other months"


def test_discount_driven_people_buy_on_discount(
    data: dict[str, pd.DataFrame], truth: pd.DataFrame, owner: dict[str, str], keys: dict
) -> None:
    purchase = (data["orders"]["status"] == "completed").to_numpy()
    orders = data["orders"][purchase]
    who = np.array(_owner_of(keys["orders"], owner))[purchase]
    driven = set(truth.loc[truth["discount_driven"] == "true", "person_id"])
    is_driven = np.array([w in driven for w in who])
    discounted = orders["discount"].astype(float).to_numpy() > 0
    for flag, share in zip((False, True), params.DISCOUNTED_ORDER_SHARE, strict=True):
        got = discounted[is_driven == flag]
        assert abs(got.mean() - share) < 4 * np.sqrt(share * (1 - share) / got.size) + 0.02
    assert discounted[is_driven].mean() > discounted[~is_driven].mean() + 0.3
    revenue = orders["revenue"].astype(float).to_numpy()
    gross = revenue + orders["discount"].astype(float).to_numpy()
    cost_share = orders["cost"].astype(float).to_numpy() / gross
    assert (
        cost_share.min() > params.COST_SHARE[0] - 0.01
        and cost_share.max() < params.COST_SHARE[1] + 0.01
    )


def test_lines_add_up_to_orders(data: dict[str, pd.DataFrame]) -> None:
    lines, orders = data["order_lines"], data["orders"]
    qty = lines["quantity"].astype(int)
    value = qty * lines["unit_price"].astype(float)
    per_order = pd.DataFrame({"o": lines["order_id"], "v": value, "q": qty})
    per_order["d"] = lines["discount"].astype(float)
    g = per_order.groupby("o").agg(v=("v", "sum"), q=("q", "sum"), d=("d", "sum"), n=("v", "size"))
    purchases = orders[orders["status"] == "completed"].set_index("order_id")
    assert set(g.index) == set(purchases.index)
    g = g.join(purchases[["revenue", "discount"]].astype(float))
    assert g["n"].between(1, params.MAX_LINES).all()
    assert (abs(g["d"] - g["discount"]) < 0.005).all()
    assert (abs(g["v"] - g["d"] - g["revenue"]) <= 0.005 * g["q"] + 0.005).all()
    assert not lines.duplicated(["order_id", "line_id"]).any()


def test_lines_use_catalog_products_on_sale(data: dict[str, pd.DataFrame]) -> None:
    products, lines, orders = data["products"], data["order_lines"], data["orders"]
    assert 200 <= len(products) <= 400 and products["sku"].is_unique
    assert set(products["in_stock"]) == {"true", "false"}
    assert products.groupby("category")["brand"].nunique().between(3, 5).all()
    assert products["category"].nunique() == len(params.CATEGORIES)
    joined = lines.merge(products, on="sku", suffixes=("", "_p"), validate="many_to_one")
    assert (joined["category"] == joined["category_p"]).all()
    assert (joined["brand"] == joined["brand_p"]).all()
    day = dict(zip(orders["order_id"], orders["ordered_at"].str[:10], strict=True))
    assert (joined["launched_at"] <= joined["order_id"].map(day)).all()


def test_top_category_is_the_most_bought(
    data: dict[str, pd.DataFrame], truth: pd.DataFrame, owner: dict[str, str], keys: dict
) -> None:
    orders = data["orders"]
    who = dict(zip(orders["order_id"], _owner_of(keys["orders"], owner), strict=True))
    lines = data["order_lines"]
    counts: dict[str, Counter[str]] = {}
    for order_id, category in zip(lines["order_id"], lines["category"], strict=True):
        counts.setdefault(who[order_id], Counter())[category] += 1
    top = truth.set_index("person_id")["top_category"]
    heavy = [(p, c) for p, c in counts.items() if c.total() >= 10]
    hits = [c[top[p]] == max(c.values()) for p, c in heavy]
    assert len(heavy) >= 30
    assert np.mean(hits) > 0.7


def test_crm_records(
    data: dict[str, pd.DataFrame], truth: pd.DataFrame, owner: dict[str, str], keys: dict
) -> None:
    records = data["customers"]
    per_person = Counter(_owner_of(keys["customers"], owner))
    assert 0.05 * len(truth) < len(truth) - len(per_person) < 0.4 * len(truth), "none missing"
    assert 1 <= sum(n == 2 for n in per_person.values()) < 0.2 * len(truth)
    assert set(records["country"]) == {"US"}
    assert set(records["signup_channel"]) == set(params.CHANNELS)
    for consent, shown in (("sms_consent", "phone"), ("email_consent", "email")):
        assert ((records[consent] == "") == (records[shown] == "")).all()  # unknown without it
    birthdays = pd.to_datetime(records["birthday"][records["birthday"] != ""])
    assert birthdays.between(pd.Timestamp("1930-01-01"), pd.Timestamp(START)).all()


def test_events(data: dict[str, pd.DataFrame], truth: pd.DataFrame) -> None:
    events = data["events"]
    assert set(events["type"]) == set(params.EVENT_TYPES)
    per_person = len(events) / len(truth)
    assert 5 < per_person < 10
    props = events["properties"][events["properties"] != ""].map(json.loads)
    assert props.map(lambda p: isinstance(p, dict)).all()
    nps = [p["nps"] for p in props if "nps" in p]
    assert nps and min(nps) >= 0 and max(nps) <= 10
    assert (events.loc[events["type"] == "email_sent", "campaign_id"].nunique()) == 12
    email_events = events["type"].str.startswith("email_")
    assert (events.loc[email_events, "email"] != "").all()
    assert (events.loc[email_events, ["customer_id", "phone", "loyalty_id"]] == "").all().all()


def test_opens_follow_purchase_rate(
    data: dict[str, pd.DataFrame], truth: pd.DataFrame, owner: dict[str, str]
) -> None:
    events = data["events"]
    email = events[events["type"].isin(["email_sent", "email_open"])]
    person = email["email"].str.strip().str.lower().map(lambda e: owner[f"email:{e}"])
    table = pd.crosstab(person, email["type"])
    table = table[table["email_sent"] >= 3]
    rate = table["email_open"] / table["email_sent"]
    lam = truth.set_index("person_id").loc[rate.index, "lambda"]
    assert rate.rank().corr(lam.rank()) > 0.05
    assert 0.05 < rate.mean() < 0.5


def test_dropouts_end_purchasing(data: dict[str, pd.DataFrame], truth: pd.DataFrame) -> None:
    dropped = truth[truth["dropped_at"] != ""]
    assert 0 < len(dropped) < len(truth)
    assert (pd.to_datetime(dropped["dropped_at"]) >= dropped["acquired"]).all()
    assert (dropped["n_orders"] >= 2).all(), "BG/NBD drops out only after a repeat purchase"
