"""Money and graduated tiers: properties that must hold for every amount and every split."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from macrohard.billing.money import (
    InvalidAmount,
    float_to_units,
    format_money,
    format_units,
    parse_money,
)
from macrohard.billing.plans import PAYOUT_RATES, PLANS, MeterPrice, Tier

micros = st.integers(min_value=-(10**15), max_value=10**15)


# No deadline: six engineers share two cores, and a slow example is not a wrong one.
@settings(deadline=None)
@given(micros)
def test_formatting_and_parsing_money_round_trip(m: int) -> None:
    text = format_money(m)
    assert parse_money(text) == m
    assert Decimal(text) * 1_000_000 == m


@settings(deadline=None)
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False))
def test_parsing_is_exact_to_the_micro(d: Decimal) -> None:
    assert parse_money(str(d)) == int(d * 1_000_000)


def test_unreadable_amounts_are_refused() -> None:
    for bad in ("", "abc", "NaN", "Infinity", "1e999999999999", "1e12", "-1e12"):
        with pytest.raises(InvalidAmount):
            parse_money(bad)
    assert parse_money("0.0000005") == 0  # half-even below a micro
    assert parse_money("0.0000015") == 2
    assert parse_money("999999999999.999999") == 10**18 - 1


def test_float_quantities_convert_through_their_decimal_repr() -> None:
    assert float_to_units(0.1, 1000) == 100  # not 100.00000000000000555
    assert float_to_units(1234.5678, 1000) == 1_234_568  # half-even on the last place
    assert float_to_units(float("nan"), 1000) == 0
    assert float_to_units(-5.0, 1000) == 0
    assert format_units(1_234_568, 1000) == "1234.568"
    assert format_units(-5, 1) == "-5"


@st.composite
def meter_prices(draw: st.DrawFn) -> MeterPrice:
    bounds = sorted(draw(st.sets(st.integers(1, 10**7), max_size=4)))
    prices = draw(st.lists(st.integers(0, 10**7), min_size=len(bounds) + 1,
                           max_size=len(bounds) + 1))  # fmt: skip
    tiers = tuple(Tier(up, p) for up, p in zip([*bounds, None], prices, strict=True))
    return MeterPrice(
        unit="u", unit_size=draw(st.sampled_from([1, 1000, 60_000, 1_000_000])),
        tiers=tiers, included=draw(st.integers(0, 10**6)),
    )  # fmt: skip


def reference_charge(price: MeterPrice, quantity: int) -> int:
    """Independent reference: walk the tiers as intervals with exact fractions."""
    billable = max(0, quantity - price.included)
    total = Fraction(0)
    lower = 0
    for tier in price.tiers:
        upper = tier.up_to if tier.up_to is not None else max(billable, lower)
        in_tier = max(0, min(billable, upper) - lower)
        total += Fraction(in_tier * tier.unit_price, price.unit_size)
        lower = upper
    return int(total)  # floor: both are non-negative


@settings(deadline=None)
@given(meter_prices(), st.integers(0, 10**9))
def test_graduated_charge_matches_the_reference(price: MeterPrice, q: int) -> None:
    assert price.charge(q) == reference_charge(price, q)


@settings(deadline=None)
@given(meter_prices(), st.integers(0, 10**8), st.integers(0, 10**8))
def test_charge_is_monotone_and_free_within_the_included_quantity(
    price: MeterPrice, a: int, b: int
) -> None:
    lo, hi = sorted((a, b))
    assert 0 <= price.charge(lo) <= price.charge(hi)
    assert price.charge(min(lo, price.included)) == 0


@settings(deadline=None)
@given(meter_prices(), st.lists(st.integers(-(10**6), 10**7), max_size=30))
def test_marginals_of_any_split_sum_to_the_charge_of_the_total(
    price: MeterPrice, quantities: list[int]
) -> None:
    # Whatever order and batching the events arrive in, the period total is exact.
    running = 0
    charged = 0
    for q in quantities:
        charged += price.marginal(running, q)
        running += q
    assert charged == price.charge(running)


def test_catalogue_figures_by_hand() -> None:
    actions = PLANS["team"].price_of("actions")
    assert actions.charge(5_000) == 0
    assert actions.charge(105_000) == 150_000_000  # 100k at 1.50 per 1k
    assert actions.charge(1_055_500) == 1_080_300_000  # + 900k at 1.00 + 50.5k at 0.60
    compute = PLANS["payg"].price_of("compute:any-model")
    assert compute.charge(3600 * 10**6) == 1_800_000  # first hour at 0.0005/s
    assert compute.charge(7200 * 10**6) == 1_800_000 + 1_440_000  # second at 0.0004/s
    assert PAYOUT_RATES.compute(60 * 10**6) == 12_000  # a compute-minute earns 0.012
    assert PAYOUT_RATES.energy(2 * 10**6) == 300  # 2 Wh earn 0.0003, at cost
    assert PAYOUT_RATES.compute(60 * 10**6, "minilm") == 3_000  # the small model earns less
    embedding = PLANS["enterprise"].price_of("compute:minilm")
    assert embedding.charge(36_000 * 10**6) == 2_952_000  # 10 hours at 0.000082/s (165%)


def test_tiers_must_be_well_formed() -> None:
    with pytest.raises(ValueError):
        MeterPrice("u", 1, (Tier(10, 1), Tier(5, 1), Tier(None, 1)))
    with pytest.raises(ValueError):
        MeterPrice("u", 1, (Tier(None, 1), Tier(None, 2)))
    with pytest.raises(ValueError):
        MeterPrice("u", 0, (Tier(None, 1),))
