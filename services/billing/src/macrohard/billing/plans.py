"""The plan catalogue and graduated (tiered) pricing.

A meter's quantity is an integer in its base unit (one action, one millisecond of task time,
one microsecond of compute, one micro-watt-hour). Prices are integer micro-units of the
currency per *priced unit* (`unit_size` base units: a minute is 60,000 ms). A period's charge
for a meter is a function of the period's total quantity only:

    charge(q) = floor( sum over tiers of (base units in tier) * unit price / unit_size )

One rounding, at the end, so charge is monotone and exact. A single event is rated by its
marginal charge, charge(before + q) - charge(before): the marginals of a period telescope to
charge(total) whatever the order or batching, which is what makes replay reproduce every
total to the micro-unit.

Plans live here, as code: a change of price is a reviewed commit, and a replay of old
periods with new prices would be a deliberate migration, not an accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Tier:
    """Billable base units up to `up_to` (cumulative, after the included quantity) cost
    `unit_price` micro-units per priced unit; None = no upper bound."""

    up_to: int | None
    unit_price: int


@dataclass(frozen=True, slots=True)
class MeterPrice:
    unit: str  # the priced unit, as shown on an invoice
    unit_size: int  # base units per priced unit
    tiers: tuple[Tier, ...]
    included: int = 0  # free base units per period

    def __post_init__(self) -> None:
        if self.unit_size <= 0 or self.included < 0 or not self.tiers:
            raise ValueError("unit_size > 0, included >= 0 and at least one tier")
        bounds = [t.up_to for t in self.tiers[:-1]]
        if None in bounds or bounds != sorted(b for b in bounds if b is not None):
            raise ValueError("tier bounds must increase; only the last may be open")
        if any(t.unit_price < 0 for t in self.tiers):
            raise ValueError("unit prices are not negative")

    def charge(self, quantity: int) -> int:
        """The charge in micro-units for a period's total `quantity` of base units."""
        billable = quantity - self.included
        if billable <= 0:
            return 0
        numerator = 0
        lower = 0
        for tier in self.tiers:
            upper = billable if tier.up_to is None else min(billable, tier.up_to)
            if upper > lower:
                numerator += (upper - lower) * tier.unit_price
            if tier.up_to is None or billable <= tier.up_to:
                break
            lower = tier.up_to
        return numerator // self.unit_size

    def marginal(self, before: int, quantity: int) -> int:
        """The charge of `quantity` more base units when the period already holds `before`."""
        return self.charge(before + quantity) - self.charge(before)


@dataclass(frozen=True, slots=True)
class PayoutRates:
    """What a car owner earns: micro-units per compute-second (per model: a bigger model
    costs the car more to run) and per watt-hour served."""

    per_compute_s: int  # a model without its own rate
    per_wh: int
    per_model: Mapping[str, int] = field(default_factory=dict)

    def compute_rate(self, model: str) -> int:
        return self.per_model.get(model, self.per_compute_s)

    def compute(self, compute_us: int, model: str = "") -> int:
        return compute_us * self.compute_rate(model) // 1_000_000

    def energy(self, energy_uwh: int) -> int:
        return energy_uwh * self.per_wh // 1_000_000


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    prices: Mapping[str, MeterPrice] = field(default_factory=dict)

    def price_of(self, meter: str) -> MeterPrice:
        """Per-model compute meters ("compute:<model>") fall back to the plan's "compute"."""
        price = self.prices.get(meter)
        if price is None and meter.startswith("compute:"):
            price = self.prices.get("compute")
        return price or FREE


FREE = MeterPrice(unit="unit", unit_size=1, tiers=(Tier(None, 0),))
K = 1000
M = 1_000_000
G = 1_000_000_000

# Base units of each meter: the projection converts every usage event into these.
METER_UNITS: Mapping[str, str] = {
    "actions": "action",
    "steps": "step",
    "task_ms": "ms",
    "screenshots": "screenshot",
    "energy_uwh": "uWh",
    "compute": "us",
    "storage": "byte",
    "credit": "answer",
}


# --- economics: what a car's work costs the platform, and what it sells for ----------------

# Owners earn per compute-second by model (the planner keeps a car's accelerator busier
# than the embedding model does) and the energy at cost; a model without its own rate
# (a new one) earns the planner's.
PAYOUT_RATES = PayoutRates(per_compute_s=200, per_wh=150, per_model={"planner": 200, "minilm": 50})
# Compute is sold at a markup on its payout, in percent, falling with volume but never to
# MIN_MARKUP_PCT: every compute-second a tenant uses is one an owner is paid for, so none
# is included free. Energy prices (225..300 per Wh) likewise stay 1.5x above the 150 paid.
MIN_MARKUP_PCT = 150
# The most of what a tenant paid for a car's work that may go to the owners: the car's and
# those of the cars that checked it (verification is the platform's cost, never billed).
# With the markups above it binds only at rounding (a call of a few microseconds rated 0
# or 1 micro-unit) and while more than COVERED_VERIFY_PCT% of a car's work is re-executed
# elsewhere (a new car's first calls): then the car's own earnings wait for its later work.
MAX_PAYOUT_PCT = 80
# The percentage of a car's calls the markups pay to verify with the owner still paid in full:
# owner (1) + checks (share) <= MAX_PAYOUT_PCT% of the price (MIN_MARKUP_PCT%).
COVERED_VERIFY_PCT = MIN_MARKUP_PCT * MAX_PAYOUT_PCT // 100 - 100


def _compute_prices(markups: tuple[tuple[int | None, int], ...]) -> dict[str, MeterPrice]:
    """Compute meters of one plan: "compute:<model>" for each model with its own payout
    rate, "compute" for the others, each tier priced at its markup on that payout."""
    if any(pct < MIN_MARKUP_PCT for _, pct in markups):
        raise ValueError(f"compute markups are at least {MIN_MARKUP_PCT}%")

    def price(rate: int) -> MeterPrice:
        tiers = tuple(Tier(up_to, rate * pct // 100) for up_to, pct in markups)
        return MeterPrice("compute-s", M, tiers)

    prices = {f"compute:{model}": price(rate) for model, rate in PAYOUT_RATES.per_model.items()}
    prices["compute"] = price(PAYOUT_RATES.per_compute_s)
    return prices


def _payg() -> Plan:
    return Plan(
        "payg",
        {
            "actions": MeterPrice("1k actions", K, (Tier(None, 2_000_000),), included=100),
            "steps": MeterPrice("1k steps", K, (Tier(None, 5_000_000),), included=100),
            "task_ms": MeterPrice("minute", 60 * K, (Tier(None, 20_000),)),
            "screenshots": MeterPrice("1k screenshots", K, (Tier(None, 500_000),)),
            **_compute_prices(((3600 * M, 250), (None, 200))),
            "energy_uwh": MeterPrice("Wh", M, (Tier(None, 300),)),
            "storage": MeterPrice("GB stored", G, (Tier(None, 100_000),)),
        },
    )


def _team() -> Plan:
    return Plan(
        "team",
        {
            "actions": MeterPrice(
                "1k actions",
                K,
                (Tier(100 * K, 1_500_000), Tier(1000 * K, 1_000_000), Tier(None, 600_000)),
                included=5 * K,
            ),
            "steps": MeterPrice(
                "1k steps", K, (Tier(100 * K, 4_000_000), Tier(None, 2_500_000)), included=5 * K
            ),
            "task_ms": MeterPrice(
                "minute", 60 * K, (Tier(600 * 60 * K, 15_000), Tier(None, 10_000)), included=0
            ),
            "screenshots": MeterPrice("1k screenshots", K, (Tier(None, 300_000),), included=K),
            **_compute_prices(((3600 * M, 225), (36_000 * M, 175), (None, 150))),
            "energy_uwh": MeterPrice("Wh", M, (Tier(None, 250),)),
            "storage": MeterPrice("GB stored", G, (Tier(None, 80_000),), included=G),
        },
    )


def _enterprise() -> Plan:
    return Plan(
        "enterprise",
        {
            "actions": MeterPrice(
                "1k actions", K, (Tier(1000 * K, 800_000), Tier(None, 400_000)), included=50 * K
            ),
            "steps": MeterPrice("1k steps", K, (Tier(None, 2_000_000),), included=50 * K),
            "task_ms": MeterPrice("minute", 60 * K, (Tier(None, 8_000),)),
            "screenshots": MeterPrice("1k screenshots", K, (Tier(None, 200_000),), included=10 * K),
            **_compute_prices(((36_000 * M, 165), (None, 150))),
            "energy_uwh": MeterPrice("Wh", M, (Tier(None, 225),)),
            "storage": MeterPrice("GB stored", G, (Tier(None, 50_000),), included=10 * G),
        },
    )


PLANS: Mapping[str, Plan] = {p.name: p for p in (_payg(), _team(), _enterprise())}
DEFAULT_PLAN = "payg"


def plan_named(name: str) -> Plan:
    """The plan of that name; an unknown name (a typo upstream) rates as pay-as-you-go."""
    return PLANS.get(name, PLANS[DEFAULT_PLAN])
