"""A demanding analyst's edge cases: refunds written positive, a baseline at zero, groups without
spread, another tool's group names, customers merged or not yet exposed after assignment, goals
that should fall, and the statistics checked against an independent scipy computation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cli_support import ok, patron_here
from patron import InputError, Workspace
from patron.experiments.analyze import Question
from patron.experiments.readout import Settings, verdict

PEOPLE = 40
IDS = [f"c{i}" for i in range(PEOPLE)]


def _order(order_id: str, customer: str, at: str, revenue: float, status: str = "completed"):
    return {
        "order_id": order_id,
        "customer_id": customer,
        "email": f"{customer}@shop.test",
        "ordered_at": at,
        "revenue": revenue,
        "status": status,
    }


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Everyone bought in March; in July c1 buys, c2 buys and returns it (the refund written
    positive, as some shops export it), c5 and c7 return a March order."""
    rows = [_order(f"p{i}", c, "2024-03-01 10:00:00", 20.0) for i, c in enumerate(IDS)]
    rows += [
        _order("w1", "c1", "2024-07-03 10:00:00", 50.0),
        _order("w2", "c2", "2024-07-04 10:00:00", 30.0),
        _order("r2", "c2", "2024-07-05 10:00:00", 30.0, "returned"),
        _order("r5", "c5", "2024-07-06 10:00:00", -20.0, "returned"),
        _order("r7", "c7", "2024-07-06 10:00:00", -20.0, "returned"),
        _order("end", "c9", "2024-09-30 10:00:00", 5.0),
    ]
    folder = tmp_path_factory.mktemp("hunt")
    workspace = Workspace.init(folder / "ws", timezone="UTC")
    workspace.load("orders", pd.DataFrame(rows), now=datetime(2025, 1, 1))
    yield workspace
    workspace.close()


def readout(ws: Workspace, variants: list[str], **question: object) -> dict:
    file = pd.DataFrame({"customer_id": IDS[: len(variants)], "variant": variants})
    return ws.analyze_experiment(
        assignments_file=file, start="2024-07-01", question=Question(**question)
    )


def means(r: dict) -> dict[str, float]:
    return {v["name"]: v["mean"] for v in r["variants"]}


def test_a_refund_written_positive_still_subtracts_from_revenue(ws: Workspace) -> None:
    # c2 bought 30 and returned it: net 0, whichever sign the return row carries
    groups = ["a" if c in ("c1", "c2") else "b" for c in IDS]
    r = readout(ws, groups, metric="revenue")
    assert means(r)["a"] == pytest.approx(50.0 / 2)  # was (50 + 30 + 30) / 2


def test_a_baseline_at_zero_cannot_be_a_no_effect(ws: Workspace) -> None:
    # 20 customers a group and one purchase: nothing here could find a 5% change
    groups = ["b" if c in ("c1", "c2") else "a" for c in IDS[:20]] + ["b"] * 20
    r = readout(ws, groups, metric="conversion")
    assert r["needed_per_group"] is None
    assert r["decision"] == "inconclusive"  # was no_effect: "would have been found 80% ..."
    assert "cannot be sized" in r["verdict"]


def test_a_pair_without_spread_does_not_stop_the_readout(ws: Workspace) -> None:
    # returns: only c2, c5 and c7 (group c) returned anything; a and b have none. The readout of
    # b against a has nothing to test, c against a has
    groups = [
        "c" if c in ("c2", "c5", "c6", "c7", "c8") else ("a" if i % 2 else "b")
        for i, c in enumerate(IDS)
    ]
    r = readout(ws, groups, metric="orders")  # returns is a guardrail here
    rows = {
        v["name"]: v
        for v in next(g for g in r["guardrails"] if g["metric"] == "returns")["variants"]
    }
    assert rows["b"]["p_value"] is None and rows["b"]["lift"] == 0
    assert rows["c"]["p_value"] is not None and rows["c"]["lift"] == pytest.approx(0.6)


def test_another_tools_group_names_take_weights(ws: Workspace) -> None:
    file = pd.DataFrame({"customer_id": IDS, "variant": ["Version A", "Vérsion B"] * 20})
    r = ws.analyze_experiment(
        assignments_file=file, start="2024-07-01", variants="Version A:1,Vérsion B:1"
    )
    assert [v["name"] for v in r["variants"]] == ["Version A", "Vérsion B"]
    assert r["expected_shares"] == {"Version A": 0.5, "Vérsion B": 0.5}


def test_a_group_of_one_is_named(ws: Workspace) -> None:
    with pytest.raises(InputError, match=r"group\(s\) lone .* have 1 customer"):
        readout(ws, ["lone"] + ["many"] * 10)


def test_customers_not_yet_exposed_are_left_out(ws: Workspace) -> None:
    # half the file is exposed after the data ends: they have no window and are no non-buyers
    at = ["2024-07-01 00:00:00"] * 20 + ["2025-06-01 00:00:00"] * 20
    variants = ["a" if c in ("c1", "c2") else "b" for c in IDS[:20]] + ["a", "b"] * 10
    file = pd.DataFrame({"customer_id": IDS, "variant": variants, "assigned_at": at})
    r = ws.analyze_experiment(assignments_file=file, question=Question(metric="orders"))
    assert r["not_yet_exposed"] == 20
    assert {v["name"]: v["n"] for v in r["variants"]} == {"a": 2, "b": 18}
    assert means(r)["a"] == 1.0  # was 2 / 12


def test_a_goal_that_should_fall_succeeds_when_it_falls() -> None:
    rows = [
        {"name": "control", "n": 5000, "lift": 0.0, "p_value": None, "p_value_adjusted": None},
        {
            "name": "treatment",
            "n": 5000,
            "lift": -0.01,
            "relative_lift": -0.5,
            "relative_lift_ci": [-0.7, -0.3],
            "p_value": 1e-6,
            "p_value_adjusted": 1e-6,
        },
    ]
    code, text = verdict(
        "unsubscribe",
        rows,
        srm_p_value=0.5,
        settings=Settings(),
        needed=100,
        worse_guardrails={},
    )
    assert code == "success"  # was failure: fewer unsubscribes read as a loss
    assert "treatment lowers unsubscribe by 50.0%" in text
    rows[1] |= {"lift": 0.01, "relative_lift": 0.5, "relative_lift_ci": [0.3, 0.7]}
    code, text = verdict(
        "returns", rows, srm_p_value=0.5, settings=Settings(), needed=100, worse_guardrails={}
    )
    assert code == "failure" and "treatment lifts returns by 50.0%" in text


def _twenty_assigned(folder: Path, name: str) -> tuple[Workspace, pd.DataFrame]:
    """Twenty customers who bought in March, all assigned to experiment ``name`` in July; the
    data run to August (a later, unassigned buyer)."""
    ws = Workspace.init(folder / "ws", timezone="UTC")
    pre = [_order(f"p{c}", c, "2024-03-01 10:00:00", 20.0) for c in (f"c{i}" for i in range(20))]
    ws.load("orders", pd.DataFrame(pre), now=datetime(2025, 1, 1))
    ws.create_experiment(name, start="2024-07-01", metric="revenue")
    late = _order("late", "z0", "2024-08-01 10:00:00", 5.0)
    ws.load("orders", pd.DataFrame([late]), now=datetime(2025, 1, 1))
    return ws, ws.experiment_assignments(name).to_pandas()


def test_customers_merged_after_assignment_follow_their_survivor(tmp_path: Path) -> None:
    # after the test was set, identity resolution finds that one control and one treatment
    # customer are one person (who got both: left out), and that two control customers are
    # one (counted once, with the purchase made under the key merged away)
    ws, got = _twenty_assigned(tmp_path, "merged")
    with ws:
        got = got.sort_values("customer_key")
        control = got[got.variant == "control"].customer_id.tolist()
        treatment = got[got.variant == "treatment"].customer_id.tolist()
        post = [_order("w", control[2], "2024-07-03 10:00:00", 40.0)]
        ws.load("orders", pd.DataFrame(post), now=datetime(2025, 1, 1))
        ties = [(control[0], treatment[0]), (control[1], control[2])]
        links = {"customer_id": [b for _, b in ties], "email": [f"{a}@shop.test" for a, _ in ties]}
        ws.load("customers", pd.DataFrame(links), now=datetime(2025, 1, 1))
        r = ws.analyze_experiment("merged")
    assert r["merges"] == {"followed": 2, "contaminated": 1, "dissolved": 0}
    sizes = {v["name"]: v["n"] for v in r["variants"]}
    assert sizes == {"control": len(control) - 2, "treatment": len(treatment) - 1}
    assert means(r)["control"] == pytest.approx(40.0 / (len(control) - 2))


def test_a_customer_dissolved_after_assignment_is_left_out(tmp_path: Path) -> None:
    # one assigned customer gave the store's e-mail alone; blocked later, it is nobody's
    people = [{"order_id": f"p{i}", "email": f"c{i}@shop.test"} for i in range(19)]
    people.append({"order_id": "w0", "email": "store@shop.test"})
    pre = pd.DataFrame(people).assign(ordered_at="2024-03-01 10:00:00", revenue=20.0)
    walk_ins = pd.DataFrame(
        {"order_id": [f"w{i}" for i in range(1, 4)], "email": "store@shop.test",
         "phone": [f"+3120555000{i}" for i in range(1, 4)], "ordered_at": "2024-07-02",
         "revenue": 5.0}
    )  # fmt: skip
    with Workspace.init(tmp_path / "ws", timezone="UTC", max_links=2) as ws:
        ws.load("orders", pre, now=datetime(2025, 1, 1))
        ws.create_experiment("gone", start="2024-07-01", metric="revenue")
        assert ws.load("orders", walk_ins, now=datetime(2025, 1, 1)).blocked_identifiers == 1
        r = ws.analyze_experiment("gone")
    assert r["merges"] == {"followed": 0, "contaminated": 0, "dissolved": 1}
    assert sum(v["n"] for v in r["variants"]) == 19  # was 20, the walk-in read as a non-buyer
    text = ok(patron_here("-w", "ws", "experiment", "analyze", "gone", cwd=tmp_path))
    assert "left out: 1 customer(s) dissolved since (every identifier blocked)" in text


def test_an_export_read_back_after_a_merge_follows_the_merged_key(tmp_path: Path) -> None:
    ws, got = _twenty_assigned(tmp_path, "sent")
    with ws:
        got[["customer_key", "variant", "assigned_at"]].to_csv(tmp_path / "sent.csv", index=False)
        control = sorted(got[got.variant == "control"].customer_id)
        tie = {"customer_id": [control[1]], "email": [f"{control[0]}@shop.test"]}
        ws.load("customers", pd.DataFrame(tie), now=datetime(2025, 1, 1))
        r = ws.analyze_experiment(assignments_file=tmp_path / "sent.csv", start="2024-07-01")
    assert r["unmatched"] == 0  # the key merged away was "no customer"
    assert r["merges"]["followed"] == 1
    assert sum(v["n"] for v in r["variants"]) == 20 - 1  # one person, counted once


def test_the_statistics_match_an_independent_computation(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 300
    pre_spend = rng.gamma(2.0, 20.0, n)
    treated = np.arange(n) % 2 == 1
    buys = rng.random(n) < np.where(treated, 0.35, 0.25)
    spend = np.where(buys, pre_spend * rng.uniform(0.5, 1.5, n) + 10, 0.0).round(2)
    people = [f"q{i}" for i in range(n)]
    rows = [
        _order(f"p{i}", c, "2024-03-01 10:00:00", round(pre_spend[i], 2))
        for i, c in enumerate(people)
    ]
    rows += [
        _order(f"w{i}", c, "2024-07-05 10:00:00", spend[i]) for i, c in enumerate(people) if buys[i]
    ]
    with Workspace.init(tmp_path / "ws", timezone="UTC") as ws:
        ws.load("orders", pd.DataFrame(rows), now=datetime(2025, 1, 1))
        file = pd.DataFrame(
            {"customer_id": people, "variant": np.where(treated, "treatment", "control")}
        )

        def read(**question: object) -> dict:
            return ws.analyze_experiment(
                assignments_file=file, start="2024-07-01", question=Question(**question)
            )["variants"][1]

        revenue, conversion = read(metric="revenue"), read(metric="conversion")
        cuped = ws.analyze_experiment(
            assignments_file=file,
            start="2024-07-01",
            question=Question(metric="revenue", cuped=True),
        )
    y_c, y_t = spend[~treated], spend[treated]
    welch = stats.ttest_ind(y_t, y_c, equal_var=False)
    assert revenue["p_value"] == pytest.approx(welch.pvalue, rel=1e-9)
    # relative lift by the delta method, Welch df
    v_c, v_t = y_c.var(ddof=1) / y_c.size, y_t.var(ddof=1) / y_t.size
    df = (v_c + v_t) ** 2 / (v_c**2 / (y_c.size - 1) + v_t**2 / (y_t.size - 1))
    ratio = y_t.mean() / y_c.mean()
    se = np.sqrt(v_t / y_c.mean() ** 2 + ratio**2 * v_c / y_c.mean() ** 2)
    half = stats.t.ppf(0.975, df) * se
    assert revenue["relative_lift_ci"] == pytest.approx([ratio - 1 - half, ratio - 1 + half])
    # conversion: unpooled z, chance to beat = Phi(lift / se)
    p_c, p_t = buys[~treated].mean(), buys[treated].mean()
    z_se = np.sqrt(p_c * (1 - p_c) / (~treated).sum() + p_t * (1 - p_t) / treated.sum())
    z = (p_t - p_c) / z_se
    assert conversion["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    assert conversion["chance_to_beat_control"] == pytest.approx(stats.norm.cdf(z), rel=1e-9)
    # CUPED: the pooled within-group slope and its rho squared
    x = np.round(pre_spend, 2)
    groups = [(x[~treated], y_c), (x[treated], y_t)]
    s_xy = sum(((a - a.mean()) * (b - b.mean())).sum() for a, b in groups)
    s_xx = sum(((a - a.mean()) ** 2).sum() for a, _ in groups)
    s_yy = sum(((b - b.mean()) ** 2).sum() for _, b in groups)
    assert cuped["cuped"]["theta"] == pytest.approx(s_xy / s_xx, rel=1e-9)
    assert cuped["cuped"]["variance_reduction"] == pytest.approx(s_xy**2 / (s_xx * s_yy))
    srm = stats.chisquare([(~treated).sum(), treated.sum()]).pvalue
    assert cuped["srm_p_value"] == pytest.approx(srm)


def test_reading_an_assignments_file_leaves_the_engine_in_utc(tmp_path: Path) -> None:
    """Reading a file's exposure times set the engine's session to the shop's zone and left it
    so: assignments exported after a readout wrote New York's midnight as ``04:00:00-04``."""
    people = [f"n{i}@shop.test" for i in range(6)]
    orders = {"order_id": people, "email": people, "revenue": 20.0}
    with Workspace.init(tmp_path / "ws", timezone="America/New_York") as ws:
        ws.load("orders", pd.DataFrame({**orders, "ordered_at": [datetime(2024, 6, 1)] * 6}))
        ws.create_experiment("nyc", audience="all", start="2024-07-01")
        ws.export_assignments("nyc", tmp_path / "before.csv")
        sent = pd.DataFrame({"email": people, "variant": ["a", "b"] * 3})
        ws.analyze_experiment(assignments_file=sent, start="2024-07-01")
        ws.export_assignments("nyc", tmp_path / "after.csv")
    before = (tmp_path / "before.csv").read_text()
    assert "2024-07-01 04:00:00+00" in before
    assert (tmp_path / "after.csv").read_text() == before


def test_a_test_nobody_is_exposed_in_yet_measures_nothing(tmp_path: Path) -> None:
    """Exposure after the data end: every assigned customer was read as a non-buyer (n = 40,
    incremental revenue "0 (0 to 0)"), and CUPED failed on the empty pre-period."""
    rows = [_order(f"p{i}", c, "2024-03-01 10:00:00", 20.0 + i) for i, c in enumerate(IDS)]
    with Workspace.init(tmp_path / "ws", timezone="UTC") as ws:
        ws.load("orders", pd.DataFrame(rows), now=datetime(2025, 1, 1))
        ws.create_experiment("later", start="2024-12-01", metric="revenue", holdout=0.1)
        for asked in (Question(), Question(cuped=True), Question(metric="orders")):
            r = ws.analyze_experiment("later", question=asked)
            assert r["not_yet_exposed"] == PEOPLE
            assert [(v["n"], v["mean"], v["lift"]) for v in r["variants"]] == [(0, None, None)] * 3
            assert r["decision"] == "inconclusive" and "nobody is exposed" in r["verdict"]
            assert r["incremental_value"] is None and r["srm_p_value"] is None
    text = ok(patron_here("-w", "ws", "experiment", "analyze", "later", "--cuped", cwd=tmp_path))
    assert "left out: 40 customer(s) not yet exposed when the data end" in text
    assert "incremental" not in text and "sample ratio" not in text
