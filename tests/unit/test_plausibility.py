"""Proves the physical bound of a delivery point's day and the side a readings file's values are on without
I/O: the bound √3 × kV × (CT primary × 1.2) × 24 h for the seed contract's points, derived by hand; a meter-day
above it is named; an 80020 file is primary-side and a CSV secondary unless the request says otherwise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.metering.commands import ImportReadings
from services.metering.domain.plausibility import PointRating, day_limit_kwh, implausible_meters
from services.metering.events import MeterDay

VL110 = PointRating(Decimal("110"), "200/5")
VL35 = PointRating(Decimal("35"), "300/5")


def test_the_day_limit_of_the_seed_points():
    # 110 kV, 200/5: √3 × 110 × (200 × 1.2 = 240 A) × 24 = 1.7320508 × 633,600 = 1,097,427.39 → 1,097,427 kWh
    assert day_limit_kwh(VL110) == Decimal("1097427")
    # 35 kV, 300/5: √3 × 35 × (300 × 1.2 = 360 A) × 24 = 1.7320508 × 302,400 = 523,772.16 → 523,772 kWh
    assert day_limit_kwh(VL35) == Decimal("523772")


def test_a_meter_day_above_its_point_is_named():
    day = [MeterDay(serial="01214368", volume_kwh=Decimal("1097428"), source="interval", complete=True),
           MeterDay(serial="01214371", volume_kwh=Decimal("523772"), source="register", complete=True),
           MeterDay(serial="01214399", volume_kwh=Decimal("9999999999"), source="register", complete=True),
           MeterDay(serial="01214368-gap", volume_kwh=None, source="interval", complete=False)]
    ratings = {"01214368": VL110, "01214371": VL35}
    # one kWh above the 110 kV bound is named; exactly the 35 kV bound is not; an unrated meter is not judged
    [found] = implausible_meters(day, ratings)
    assert (found.serial, found.volume_kwh, found.limit_kwh) == ("01214368", Decimal("1097428"), Decimal("1097427"))


@pytest.mark.parametrize(("query", "side"), [
    ({"format": "80020"}, "primary"), ({"format": "csv"}, "secondary"), ({}, "secondary"),
    ({"format": "80020", "side": "secondary"}, "secondary"), ({"format": "csv", "side": "primary"}, "primary")])
def test_the_side_is_the_formats_unless_stated(query, side):
    assert ImportReadings(**query).side_of_values() == side
