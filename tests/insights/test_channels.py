"""Channel preference and CX: mixes, preferences and ties, NPS with its interval, return rates."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pytest

from insights.support import by_id, csv_workspace, ids, sample_workspace, segments
from patron import InputError, Workspace
from patron.insights.channels import (
    channel_mix,
    customer_channels,
    segment_channels,
    segment_experience,
    survey_scores,
)
from patron.metrics.occasions import last_order_date
from patron.samples.synthetic.params import FULL_RETURN_SHARE, NPS_WEIGHTS, RETURN_SHARE

AS_OF = date(2024, 12, 31)

# Purchases by 2024-12-31 (a5 is after it; r1, r2 are returns):
#   k1 web 02-01, store 03-01, web 04-01, store 05-01: 2 each, store used last -> store, 1/2
#   k2 app 2023-06-01 and 2024-06-01 -> app (one channel), 1
#   k3 store 80, 20, 50 and one without channel (unknown) -> store, 3/4
# In the 365 days to 2024-12-31 (2024-01-02 on): k1 100, k2 60 (b1 and its refund r2 are
# older), k3 200 with a refund of 30.
ORDERS = """order_id,customer_id,ordered_at,channel,revenue,status
a1,k1,2024-02-01 10:00,web,10,
a2,k1,2024-03-01 10:00,store,20,
a3,k1,2024-04-01 10:00,web,30,
a4,k1,2024-05-01 10:00,store,40,
a5,k1,2025-01-05 10:00,web,50,
b1,k2,2023-06-01 10:00,app,100,
b2,k2,2024-06-01 10:00,app,60,
r2,k2,2023-06-05 10:00,app,-100,returned
c1,k3,2024-03-01 10:00,store,80,
c2,k3,2024-03-02 10:00,store,20,
c3,k3,2024-03-03 10:00,store,50,
c4,k3,2024-07-01 10:00,,50,
r1,k3,2024-03-10 10:00,store,-30,returned
"""
# Engagements: k1 email 3 (open, open, click; last 04-01; the send does not count), sms 3
# (last 05-01) -> sms, 1/2; k2 web 2, push 1 (no channel: the type's prefix) -> web, 2/3 (the
# unsubscribe does not count); k3 none; k4 app 1 (its 2025 open is after the day) -> app.
# Surveys, latest valid answer: k1 3 (its 10 is older), k2 8 (a string under "score"), k3 9
# (its own nps column, kept in attributes; the 11 is out of range), k4 6 (its 2025 10 is late).
EVENTS = """event_id,customer_id,occurred_at,type,channel,properties,nps
e1,k1,2024-02-02 09:00,email_sent,email,,
e2,k1,2024-02-02 10:00,email_open,email,,
e3,k1,2024-03-02 10:00,email_open,email,,
e4,k1,2024-04-01 10:00,email_click,email,,
e5,k1,2024-03-05 10:00,sms_click,sms,,
e6,k1,2024-04-05 10:00,sms_click,sms,,
e7,k1,2024-05-01 10:00,sms_click,sms,,
e8,k1,2024-06-01 10:00,survey_response,email,"{""nps"": 10}",
e9,k1,2024-09-01 10:00,survey_response,email,"{""nps"": 3}",
e10,k2,2024-06-02 10:00,web_visit,web,"{""pages"": 3}",
e11,k2,2024-06-03 10:00,web_visit,web,,
e12,k2,2024-06-04 10:00,push_open,,,
e13,k2,2024-06-05 10:00,email_unsubscribe,email,,
e14,k2,2024-06-10 10:00,survey_response,email,"{""score"": ""8""}",
e15,k3,2024-03-05 10:00,survey_response,email,not json,9
e16,k3,2024-08-05 10:00,survey_response,email,"{""nps"": 11}",
e17,k4,2024-07-01 10:00,app_visit,app,,
e18,k4,2024-07-02 10:00,survey_response,email,"{""nps"": 6}",
e19,k4,2025-01-02 10:00,survey_response,email,"{""nps"": 10}",
e20,k4,2025-01-02 10:00,email_open,email,,
"""
CUSTOMERS = """customer_id,country
k5,DE
"""
GROUPS = {"k1": "A", "k2": "A", "k3": "B", "k4": "B", "k5": "B"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("channels")
    return csv_workspace(folder, {"orders": ORDERS, "events": EVENTS, "customers": CUSTOMERS})


def test_channel_mix_by_hand(shop: Workspace) -> None:
    rows = channel_mix(shop.table("orders"), shop.table("events"), AS_OF).to_pyarrow().to_pylist()
    names = ids(shop)
    got = {(names[r["customer_key"]], r["kind"], r["channel"]): r for r in rows}
    assert {k: (r["uses"], r["share"], r["rank"]) for k, r in got.items()} == {
        ("k1", "purchase", "store"): (2, 0.5, 0),
        ("k1", "purchase", "web"): (2, 0.5, 1),
        ("k1", "engagement", "sms"): (3, 0.5, 0),
        ("k1", "engagement", "email"): (3, 0.5, 1),
        ("k2", "purchase", "app"): (2, 1.0, 0),
        ("k2", "engagement", "web"): (2, pytest.approx(2 / 3), 0),
        ("k2", "engagement", "push"): (1, pytest.approx(1 / 3), 1),
        ("k3", "purchase", "store"): (3, 0.75, 0),
        ("k3", "purchase", "unknown"): (1, 0.25, 1),
        ("k4", "engagement", "app"): (1, 1.0, 0),
    }


def test_preferred_channels_ties_and_one_channel(shop: Workspace) -> None:
    table = customer_channels(shop.table("orders"), shop.table("events"), AS_OF)
    rows = by_id(shop, table)
    columns = (
        "purchases",
        "purchase_channels",
        "preferred_channel",
        "preferred_channel_share",
        "engagements",
        "engagement_channels",
        "preferred_engagement",
        "preferred_engagement_share",
    )
    got = {c: tuple(r[k] for k in columns) for c, r in rows.items()}
    assert got == {
        "k1": (4, 2, "store", 0.5, 6, 2, "sms", 0.5),  # ties: the channel used last
        "k2": (2, 1, "app", 1.0, 3, 2, "web", pytest.approx(2 / 3)),
        "k3": (4, 2, "store", 0.75, 0, 0, None, None),
        "k4": (0, 0, None, None, 1, 1, "app", 1.0),
    }
    # The same day's data without events: purchases alone, nobody engaged.
    quiet = shop.table("events").filter(ibis.literal(False))
    alone = by_id(shop, customer_channels(shop.table("orders"), quiet, AS_OF))
    assert set(alone) == {"k1", "k2", "k3"}
    assert {r["engagements"] for r in alone.values()} == {0}


def test_segment_channels_by_hand(shop: Workspace) -> None:
    channels = customer_channels(shop.table("orders"), shop.table("events"), AS_OF)
    rows = segment_channels(channels, segments(shop, GROUPS), "segment").to_pyarrow().to_pylist()
    assert [(r["segment"], r["kind"], r["channel"], r["customers"], r["share"]) for r in rows] == [
        ("A", "engagement", "sms", 1, 0.5),
        ("A", "engagement", "web", 1, 0.5),
        ("A", "purchase", "app", 1, 0.5),
        ("A", "purchase", "store", 1, 0.5),
        ("B", "engagement", "app", 1, 1.0),
        ("B", "purchase", "store", 1, 1.0),
    ]


def test_survey_scores_take_each_latest_valid_answer(shop: Workspace) -> None:
    rows = by_id(shop, survey_scores(shop.table("events"), AS_OF))
    assert {c: r["score"] for c, r in rows.items()} == {"k1": 3, "k2": 8, "k3": 9, "k4": 6}


def test_segment_nps_and_return_rate_by_hand(shop: Workspace) -> None:
    orders, events = shop.table("orders"), shop.table("events")
    table = segment_experience(orders, events, segments(shop, GROUPS), "segment", AS_OF)
    rows = {r["segment"]: r for r in table.to_pyarrow().to_pylist()}
    a, b = rows["A"], rows["B"]
    # A: k1 detractor (3), k2 passive (8): NPS -50; variance (0 + 1/2 - 1/4) / 2 = 1/8, so the
    # interval is -50 -+ 196 sqrt(1/8) = [-119.3, 19.3], cut at -100.
    assert (a["customers"], a["respondents"], a["promoters"], a["passives"], a["detractors"]) == (
        2,
        2,
        0,
        1,
        1,
    )
    assert a["nps"] == pytest.approx(-50)
    assert (a["nps_low"], a["nps_high"]) == pytest.approx((-100, -50 + 195.9964 * math.sqrt(1 / 8)))
    # B: k3 promoter (9), k4 detractor (6), k5 no answer: NPS 0 of 2 respondents, 3 customers.
    assert (b["customers"], b["respondents"], b["nps"]) == (3, 2, 0)
    # Money in the 365 days to the day: A 100 + 60, nothing back; B 200, 30 back.
    assert (a["purchases"], a["revenue"], a["refunds"], a["return_rate"]) == (5, 160, 0, 0)
    assert (b["purchases"], b["revenue"], b["refunds"], b["return_rate"]) == (4, 200, 30, 0.15)


def test_no_surveys_no_nps(shop: Workspace) -> None:
    events = shop.table("events").filter(ibis._.type != "survey_response")
    table = segment_experience(
        shop.table("orders"), events, segments(shop, GROUPS), "segment", AS_OF
    )
    rows = table.to_pyarrow().to_pylist()
    assert {(r["respondents"], r["nps"], r["nps_low"]) for r in rows} == {(0, None, None)}
    assert {r["segment"]: r["return_rate"] for r in rows} == {"A": 0.0, "B": 0.15}


def test_bad_groups_and_window_are_refused(shop: Workspace) -> None:
    orders, events = shop.table("orders"), shop.table("events")
    with pytest.raises(InputError, match="did you mean 'segment'"):
        segment_experience(orders, events, segments(shop, GROUPS), "segments", AS_OF)
    with pytest.raises(InputError, match=r"^window must be at least 1 day"):
        segment_experience(orders, events, segments(shop, GROUPS), "segment", AS_OF, window=0)


def test_nps_interval_against_numpy() -> None:
    # 60 respondents in one group, scores cycling over 0..10 and a few 9s and 10s.
    scores = [*range(11)] * 5 + [9, 10, 10, 9, 10]
    start = datetime(2024, 1, 1)
    events = ibis.memtable(
        {
            "customer_key": list(range(len(scores))),
            "occurred_at": [start + timedelta(hours=i) for i in range(len(scores))],
            "type": ["survey_response"] * len(scores),
            "properties": [f'{{"nps": {s}}}' for s in scores],
        }
    )
    orders = ibis.memtable(
        pa.table(
            {
                "customer_key": [0],
                "order_id": ["o"],
                "order_date": [date(2024, 1, 1)],
                "ordered_at": [start],
                "channel": ["web"],
                "revenue": [10.0],
                "cost": pa.array([None], pa.float64()),
                "is_return": [False],
            }
        )
    )
    everyone = ibis.memtable({"customer_key": list(range(len(scores))), "all": ["x"] * len(scores)})
    (row,) = segment_experience(orders, events, everyone, "all", AS_OF).to_pyarrow().to_pylist()
    answers = np.array([1 if s >= 9 else -1 if s <= 6 else 0 for s in scores])
    nps, se = 100 * answers.mean(), 100 * math.sqrt(answers.var() / len(answers))
    assert row["nps"] == pytest.approx(nps)
    assert (row["nps_low"], row["nps_high"]) == pytest.approx(
        (nps - 1.959964 * se, nps + 1.959964 * se)
    )


@pytest.fixture(scope="module")
def synthetic_shop(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("synthetic")
    tables = ("orders", "events")
    ws, _ = sample_workspace(folder, customers=3_000, seed=11, tables=tables, clean=False)
    return ws


def test_recovers_the_planted_channels_nps_and_returns(synthetic_shop: Workspace) -> None:
    ws = synthetic_shop
    as_of = last_order_date(ws.sales())
    orders, events = ws.table("orders"), ws.table("events")
    # 80% of repeat orders use the acquisition channel: repeat buyers prefer it.
    channels = customer_channels(orders, events, as_of)
    occ = ws.sales().occasions
    acquired = occ.filter(occ.n == 0).select("customer_key", "acquisition_channel")
    repeat = channels.filter(channels.purchases >= 3).inner_join(acquired, "customer_key")
    same = (repeat.preferred_channel == repeat.acquisition_channel).mean()
    assert same.to_pyarrow().as_py() > 0.8
    # Everyone in one group: the NPS interval holds the planted NPS, and the return rate is near
    # the planted one (4% of purchases, three in four refunded in full, the rest 30-90%).
    weights = NPS_WEIGHTS / NPS_WEIGHTS.sum()
    planted = 100 * (weights[9:].sum() - weights[:7].sum())
    everyone = ws.table("customers").mutate(all=ibis.literal("all"))
    (row,) = segment_experience(orders, events, everyone, "all", as_of).to_pyarrow().to_pylist()
    assert row["respondents"] > 200
    assert row["nps_low"] < planted < row["nps_high"]
    refunded = RETURN_SHARE * (FULL_RETURN_SHARE + (1 - FULL_RETURN_SHARE) * 0.6)
    assert refunded / 2 < row["return_rate"] < refunded * 2


def test_events_count_until_the_day_ends_in_the_shops_timezone(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", timezone="America/New_York")
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,channel,revenue\no1,k1,2024-12-30 10:00,web,10\n"
    )
    # 23:30 on the as-of day in New York is 04:30 the next day in UTC; 00:30 is the day after
    (tmp_path / "events.csv").write_text(
        "event_id,customer_id,occurred_at,type,channel,properties\n"
        "e1,k1,2024-12-31 23:30,email_open,email,\n"
        "e2,k1,2025-01-01 00:30,sms_click,sms,\n"
        'e3,k1,2024-12-31 23:00,survey_response,email,"{""nps"": 10}"\n'
        'e4,k1,2025-01-01 00:10,survey_response,email,"{""nps"": 2}"\n'
    )
    ws.load("orders", tmp_path / "orders.csv")
    ws.load("events", tmp_path / "events.csv")
    row = ws.insights.customer_channels(as_of=AS_OF).to_pyarrow().to_pylist()[0]
    assert (row["engagements"], row["preferred_engagement"]) == (1, "email")
    experience = ws.insights.channels(dimension="stage", as_of=AS_OF)["experience"]
    assert [(g["respondents"], g["promoters"]) for g in experience] == [(1, 1)]
