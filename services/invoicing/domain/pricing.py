"""Pricing a volume (Appendix 4, §5.2, §5.4, §5.5): dated price schedule × volume, VAT by turnover date.

Every component of the price is its own invoice line (the RES surcharge is shown apart from the cap
tariff), each line's amount and each line's VAT are rounded half-up to the tiyn once, where the line
is made. When the price changes inside the priced days, the volume is split over the days of each
price period pro rata (to the watt-hour, the remainder on the last part) unless daily volumes are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from services.invoicing.domain.postings import Entry, LedgerAccount, entry
from services.invoicing.domain.rates import DatedRates
from shared.errors import ValidationFailed
from shared.events.contracts import PricePeriodTerms
from shared.money import Money

KWH_QUANTUM = Decimal("0.001")
REVENUE_ACCOUNT = {
    "cap_tariff": LedgerAccount.REVENUE_ENERGY,
    "service_tariff": LedgerAccount.REVENUE_ENERGY,
    "res_surcharge": LedgerAccount.REVENUE_RES,
}


@dataclass(frozen=True)
class ChargeLine:
    component: str
    first_day: date
    last_day: date
    volume_kwh: Decimal
    rate_per_kwh: Decimal
    net: Money
    vat_rate_percent: Decimal
    vat: Money

    @property
    def gross(self) -> Money:
        return self.net + self.vat


@dataclass(frozen=True)
class Charge:
    first_day: date
    last_day: date
    turnover_date: date
    volume_kwh: Decimal
    lines: tuple[ChargeLine, ...]
    currency: str

    # summed once per charge (its lines never change): an invoice reads each several times
    @cached_property
    def net(self) -> Money:
        return Money.total((line.net for line in self.lines), self.currency)

    @cached_property
    def vat(self) -> Money:
        return Money.total((line.vat for line in self.lines), self.currency)

    @cached_property
    def total(self) -> Money:
        return self.net + self.vat

    def ledger_entry(self) -> Entry:
        """Dr receivables (net, VAT) / Cr revenue per component and output VAT."""
        pairs = [(LedgerAccount.RECEIVABLE_ENERGY, self.net), (LedgerAccount.RECEIVABLE_VAT, self.vat),
                 (LedgerAccount.VAT_OUTPUT, -self.vat)]
        pairs += [(REVENUE_ACCOUNT[line.component], -line.net) for line in self.lines]
        return entry(*pairs)


def days(first: date, last: date) -> int:
    return (last - first).days + 1


def price_parts(schedule: list[PricePeriodTerms], first: date, last: date) -> list[tuple[date, date, PricePeriodTerms]]:
    """The price periods covering [first, last], clipped to it; every day must have a price."""
    parts = []
    day = first
    for period in sorted(schedule, key=lambda p: p.valid_from):
        end = period.valid_to or last
        if end < day or period.valid_from > last:
            continue
        if period.valid_from > day:
            break
        parts.append((day, min(end, last), period))
        day = min(end, last) + timedelta(days=1)
        if day > last:
            return parts
    raise ValidationFailed(f"no price is in force on {day.isoformat()}", reason="no_price_in_force",
                           details={"date": day.isoformat()})


def split_volume(volume_kwh: Decimal, parts: list[tuple[date, date, PricePeriodTerms]], first: date,
                 last: date) -> list[Decimal]:
    total_days = days(first, last)
    shares = [(volume_kwh * days(a, b) / total_days).quantize(KWH_QUANTUM, ROUND_HALF_UP) for a, b, _ in parts[:-1]]
    return [*shares, volume_kwh - sum(shares, Decimal(0))]


def price_volume(*, volume_kwh: Decimal, first_day: date, last_day: date, schedule: list[PricePeriodTerms],
                 vat: DatedRates, currency: str, turnover_date: date | None = None) -> Charge:
    if volume_kwh < 0:
        raise ValidationFailed("a volume cannot be negative", reason="negative_volume")
    turnover = turnover_date or last_day
    vat_percent = vat.rate_on(turnover)
    parts = price_parts(schedule, first_day, last_day)
    lines = []
    for (start, end, period), part_volume in zip(parts, split_volume(volume_kwh, parts, first_day, last_day),
                                                 strict=True):
        for component in period.components:
            net = (Money(component.rate_per_kwh, currency) * part_volume).rounded()
            lines.append(ChargeLine(component.code, start, end, part_volume, component.rate_per_kwh, net, vat_percent,
                                    (net * vat_percent / 100).rounded()))
    return Charge(first_day, last_day, turnover, volume_kwh, tuple(lines), currency)


def difference(corrected: Charge, original: Charge) -> Charge:
    """A correcting charge: each line of the corrected charge minus the same line of the original."""
    assert (corrected.first_day, corrected.last_day) == (original.first_day, original.last_day)
    before = {(line.component, line.first_day): line for line in original.lines}
    lines = []
    for line in corrected.lines:
        old = before.pop((line.component, line.first_day), None)
        if old is None:
            lines.append(line)
            continue
        lines.append(ChargeLine(line.component, line.first_day, line.last_day, line.volume_kwh - old.volume_kwh,
                                line.rate_per_kwh, line.net - old.net, line.vat_rate_percent, line.vat - old.vat))
    for old in before.values():
        lines.append(ChargeLine(old.component, old.first_day, old.last_day, -old.volume_kwh, old.rate_per_kwh,
                                -old.net, old.vat_rate_percent, -old.vat))
    return Charge(corrected.first_day, corrected.last_day, corrected.turnover_date,
                  corrected.volume_kwh - original.volume_kwh, tuple(lines), corrected.currency)


def combine(original: Charge, correction: Charge) -> Charge:
    """The full charge after a correction: each line of the original plus the correction's line."""
    lines = {(line.component, line.first_day): line for line in original.lines}
    for line in correction.lines:
        old = lines.get((line.component, line.first_day))
        if old is None:
            lines[(line.component, line.first_day)] = line
        else:
            lines[(line.component, line.first_day)] = ChargeLine(
                line.component, line.first_day, line.last_day, old.volume_kwh + line.volume_kwh, line.rate_per_kwh,
                old.net + line.net, line.vat_rate_percent, old.vat + line.vat)
    return Charge(original.first_day, original.last_day, original.turnover_date,
                  original.volume_kwh + correction.volume_kwh, tuple(lines.values()), original.currency)
