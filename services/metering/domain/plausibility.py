"""What a delivery point can physically carry in a day: a meter's day above it is a wrong reading, not energy.

The bound is the connection's apparent power at the current transformer's highest continuous current, for
the whole day at unity power factor (an upper bound: real power never exceeds it):

    day limit (kWh) = √3 × U (kV) × I (A) × 24 h,   I = the CT's rated primary current × 1.2

(kV × A = kW). A CT carries up to 120 % of its rated primary current continuously (the usual extended
rating), so a line metered through a 200/5 CT carries at most 240 A. For the seed contract's points:
110 kV, 200/5 → √3 × 110 × 240 × 24 = 1,097,427 kWh; 35 kV, 300/5 → √3 × 35 × 360 × 24 = 523,772 kWh
(rounded down to the kWh). The usual cause of a day above it is a file counted on the wrong side: primary
values multiplied by CT × VT again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext

from services.metering.events import MeterDay
from shared.transformers import rated_primary

CT_EXTENDED_RATING = Decimal("1.2")   # continuous current as a share of the CT's rated primary current
HOURS_A_DAY = 24


@dataclass(frozen=True)
class PointRating:
    """What bounds a meter's point: the line voltage (kV) and the CT ratio ("200/5")."""

    voltage_kv: Decimal
    ct_ratio: str


def day_limit_kwh(rating: PointRating) -> Decimal:
    """√3 × U × (CT primary × 1.2) × 24, rounded down to the kWh (see the module's note)."""
    primary_amperes = Decimal(rated_primary(rating.ct_ratio))
    with localcontext() as exact:
        exact.prec = 28
        limit = Decimal(3).sqrt() * rating.voltage_kv * primary_amperes * CT_EXTENDED_RATING * HOURS_A_DAY
    return limit.quantize(Decimal(1), rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Implausible:
    serial: str
    volume_kwh: Decimal
    limit_kwh: Decimal


def implausible_meters(meters: Iterable[MeterDay], ratings: Mapping[str, PointRating]) -> list[Implausible]:
    """The meters of one day whose share is above what their point can carry (a meter without a rating is
    not judged)."""
    found = []
    for meter in meters:
        rating = ratings.get(meter.serial)
        if rating is None or meter.volume_kwh is None:
            continue
        limit = day_limit_kwh(rating)
        if meter.volume_kwh > limit:
            found.append(Implausible(meter.serial, meter.volume_kwh, limit))
    return found
