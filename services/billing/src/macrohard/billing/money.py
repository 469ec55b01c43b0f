"""Money as integer micro-units of the currency: exact, and cheap to add in bulk.

Decimal strings cross the wire ("12.500000"); floats never touch an amount. Quantities that
other contexts publish as floats (compute_ms, energy_wh) are converted once, through their
shortest decimal repr, into integer base units (microseconds, micro-watt-hours).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

MICROS = 1_000_000
_ONE = Decimal(1)


class InvalidAmount(ValueError):
    def __init__(self, value: str) -> None:
        super().__init__(f"{value!r} is not a decimal amount below 10^12")
        self.value = value


def parse_money(value: str) -> int:
    """A decimal string ("100", "12.5") as micro-units; beyond 6 places rounds half-even."""
    try:
        dec = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidAmount(str(value)) from None
    # Beyond 10^12 would not fit a bigint of micro-units; no bill is that large.
    if not dec.is_finite() or (dec and dec.adjusted() >= 12):
        raise InvalidAmount(value)
    try:
        return int((dec * MICROS).quantize(_ONE, rounding=ROUND_HALF_EVEN))
    except ArithmeticError:  # an exponent too small for the context
        raise InvalidAmount(value) from None


def format_money(micros: int) -> str:
    """Micro-units as a decimal string with exactly 6 places ("-0.000001", "12.500000")."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    return f"{sign}{whole}.{frac:06d}"


def float_to_units(value: float, scale: int) -> int:
    """A float quantity as an integer count of 1/scale of its unit (ms -> us: scale 1000).

    repr gives the shortest decimal that round-trips, i.e. what the producer meant; the
    binary expansion of 0.1 would not. Negative or non-finite values count as zero.
    """
    if not math.isfinite(value) or value <= 0:
        return 0
    return int((Decimal(repr(value)) * scale).quantize(_ONE, rounding=ROUND_HALF_EVEN))


def format_units(quantity: int, scale: int) -> str:
    """An integer in 1/scale units as a decimal string (scale a power of ten)."""
    places = len(str(scale)) - 1
    sign = "-" if quantity < 0 else ""
    whole, frac = divmod(abs(quantity), scale)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"
