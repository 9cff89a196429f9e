"""Proves the ledger's pure rules on the seed contract's figures, each derived by hand in a comment:
pricing with VAT per line, prepayment blocks and deadlines, penalties sliced at base-rate changes,
and debt-first allocation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.domain.allocation import DebtKind, OpenItem, allocate_payment
from services.invoicing.domain.penalty import LateAmount, PenaltyTerms, compute_penalty, late_days
from services.invoicing.domain.postings import LedgerAccount
from services.invoicing.domain.prepayment import month_blocks, prepayment_demands
from services.invoicing.domain.pricing import difference, price_volume
from services.invoicing.domain.rates import base_rates, vat_rates
from shared.calendar import WorkingCalendar
from shared.errors import ValidationFailed
from shared.events.contracts import ContractTerms
from shared.money import Money
from tests.support import seed_contract

TERMS = ContractTerms.model_validate(seed_contract())
KZT = "KZT"


def kzt(text: str) -> Money:
    return Money(text, KZT)


def january(volume: str = "31000"):
    return price_volume(volume_kwh=Decimal(volume), first_day=date(2022, 1, 1), last_day=date(2022, 1, 31),
                        schedule=TERMS.price_schedule, vat=vat_rates(), currency=KZT)


def test_january_2022_as_in_the_facts():
    charge = january()
    # cap tariff 31,000 × 11.97 = 371,070.00; VAT 12% = 44,528.40
    # RES surcharge 31,000 × 1.58 = 48,980.00; VAT 12% = 5,877.60
    lines = {line.component: (line.net, line.vat) for line in charge.lines}
    assert lines == {"cap_tariff": (kzt("371070.00"), kzt("44528.40")),
                     "res_surcharge": (kzt("48980.00"), kzt("5877.60"))}
    # 31,000 × 13.55 = 420,050.00; VAT 50,406.00; total 470,456.00
    assert (charge.net, charge.vat, charge.total) == (kzt("420050.00"), kzt("50406.00"), kzt("470456.00"))


def test_the_invoice_entry_balances_and_splits_revenue():
    postings = {p.account: p.amount for p in january().ledger_entry().postings}
    assert postings == {
        LedgerAccount.RECEIVABLE_ENERGY: kzt("420050.00"), LedgerAccount.RECEIVABLE_VAT: kzt("50406.00"),
        LedgerAccount.VAT_OUTPUT: kzt("-50406.00"), LedgerAccount.REVENUE_ENERGY: kzt("-371070.00"),
        LedgerAccount.REVENUE_RES: kzt("-48980.00"),
    }


def test_vat_follows_the_turnover_date_not_the_invoice_date():
    schedule = [p.model_copy(update={"valid_to": None}) for p in TERMS.price_schedule]
    december = price_volume(volume_kwh=Decimal("1000"), first_day=date(2025, 12, 1), last_day=date(2025, 12, 31),
                            schedule=schedule, vat=vat_rates(), currency=KZT)
    january_2026 = price_volume(volume_kwh=Decimal("1000"), first_day=date(2026, 1, 1), last_day=date(2026, 1, 31),
                                schedule=schedule, vat=vat_rates(), currency=KZT)
    # 1,000 × 13.55 = 13,550.00; 12% = 1,626.00 (turnover 2025-12-31); 16% = 2,168.00 (turnover 2026-01-31)
    assert december.vat == kzt("1626.00")
    assert january_2026.vat == kzt("2168.00")


def test_a_mid_month_price_change_splits_the_volume_by_days():
    schedule = [
        TERMS.price_schedule[0].model_copy(update={"valid_to": date(2022, 3, 15)}),
        TERMS.price_schedule[0].model_copy(update={"valid_from": date(2022, 3, 16), "valid_to": None, "components": [
            TERMS.price_schedule[0].components[0].model_copy(update={"rate_per_kwh": Decimal("12.50")}),
            TERMS.price_schedule[0].components[1]]}),
    ]
    charge = price_volume(volume_kwh=Decimal("35000"), first_day=date(2022, 3, 1), last_day=date(2022, 3, 31),
                          schedule=schedule, vat=vat_rates(), currency=KZT)
    # March: 15 days at the old price, 16 at the new; 35,000 × 15/31 = 16,935.484 kWh, the rest 18,064.516
    volumes = {(line.component, line.first_day.day): line.volume_kwh for line in charge.lines}
    assert volumes[("cap_tariff", 1)] == Decimal("16935.484")
    assert volumes[("cap_tariff", 16)] == Decimal("18064.516")
    # cap: 16,935.484 × 11.97 = 202,717.74 (202,717.74348); 18,064.516 × 12.50 = 225,806.45 (225,806.45)
    nets = {(line.component, line.first_day.day): line.net for line in charge.lines}
    assert nets[("cap_tariff", 1)] == kzt("202717.74")
    assert nets[("cap_tariff", 16)] == kzt("225806.45")


def test_a_correcting_invoice_charges_the_difference_only():
    # the act said 31,000 kWh, the corrected act 30,500: −500 × 11.97 = −5,985.00; −500 × 1.58 = −790.00
    delta = difference(january("30500"), january("31000"))
    assert delta.net == kzt("-6775.00")
    assert delta.vat == kzt("-813.00")  # −718.20 − 94.80
    assert delta.volume_kwh == Decimal("-500")


def test_no_price_in_force_is_refused():
    with pytest.raises(ValidationFailed) as raised:
        price_volume(volume_kwh=Decimal("1"), first_day=date(2023, 1, 1), last_day=date(2023, 1, 31),
                     schedule=TERMS.price_schedule, vat=vat_rates(), currency=KZT)
    assert raised.value.reason == "no_price_in_force"


def test_prepayment_blocks_of_january_2022_in_calendar_decades():
    demands = prepayment_demands(year=2022, month=1, plan_kwh=Decimal("31000"), schedule=TERMS.price_schedule,
                                 vat=vat_rates(), currency=KZT, calendar=WorkingCalendar(), rule="calendar_decades")
    # §5.3 a contract agreeing to decades: 31,000 kWh over 31 days = 1,000 kWh a day: blocks of 10, 10 and 11 days
    assert [d.volume_kwh for d in demands] == [Decimal("10000.000"), Decimal("10000.000"), Decimal("11000.000")]
    # 10,000 × 13.55 = 135,500.00 + 12% 16,260.00 = 151,760.00; 11,000 → 149,050.00 + 17,886.00 = 166,936.00
    assert [d.charge.total for d in demands] == [kzt("151760.00"), kzt("151760.00"), kzt("166936.00")]
    # 3 banking days before 2022-01-01: Dec 31 (Fri) is a working day, so Dec 31, 30, 29 → due 2021-12-29.
    # Before 2022-01-11 (Tue): Jan 10 (Mon), Jan 7 is a holiday (Orthodox Christmas), Jan 6 (Thu), Jan 5 → 2022-01-05
    # Before 2022-01-21 (Fri): Jan 20, 19, 18 → 2022-01-18
    assert [d.due_date for d in demands] == [date(2021, 12, 29), date(2022, 1, 5), date(2022, 1, 18)]


def test_february_blocks_end_on_the_28th():
    for rule in ("ten_days", "calendar_decades"):
        assert [(b.first_day.day, b.last_day.day) for b in month_blocks(2022, 2, rule)] == [(1, 10), (11, 20), (21, 28)]


def test_ten_day_blocks_of_january_2022():
    # §5.3 "the 10 following days": 1–10, 11–20, 21–30, and the 31st a block of its own
    demands = prepayment_demands(year=2022, month=1, plan_kwh=Decimal("31000"), schedule=TERMS.price_schedule,
                                 vat=vat_rates(), currency=KZT, calendar=WorkingCalendar(), rule="ten_days")
    assert [(d.block.first_day.day, d.block.last_day.day) for d in demands] == [(1, 10), (11, 20), (21, 30), (31, 31)]
    # 31,000 kWh × 10/31 = 10,000 kWh a block; the 31st takes the remainder 31,000 − 30,000 = 1,000
    assert [d.volume_kwh for d in demands] == [Decimal("10000.000")] * 3 + [Decimal("1000.000")]
    # 10,000 × 11.97 = 119,700.00 + VAT 14,364.00; × 1.58 = 15,800.00 + VAT 1,896.00 → 151,760.00;
    # 1,000 kWh: 11,970.00 + 1,436.40 + 1,580.00 + 189.60 = 15,176.00; together 470,456.00, the month's invoice
    assert [d.charge.total for d in demands] == [kzt("151760.00")] * 3 + [kzt("15176.00")]
    # the 31st (Mon) is prepaid 3 banking days before: Jan 28 (Fri), 27, 26 → 2022-01-26
    assert [d.due_date for d in demands] == [date(2021, 12, 29), date(2022, 1, 5), date(2022, 1, 18),
                                             date(2022, 1, 26)]


def test_ten_day_blocks_of_february_2022():
    demands = prepayment_demands(year=2022, month=2, plan_kwh=Decimal("25000"), schedule=TERMS.price_schedule,
                                 vat=vat_rates(), currency=KZT, calendar=WorkingCalendar(), rule="ten_days")
    # §5.3 28 days: 1–10, 11–20 and the 8 days left, 21–28
    assert [(d.block.first_day.day, d.block.last_day.day) for d in demands] == [(1, 10), (11, 20), (21, 28)]
    # 25,000 × 10/28 = 8,928.5714… → 8,928.571 kWh (to the watt-hour); the last 25,000 − 2 × 8,928.571 = 7,142.858
    assert [d.volume_kwh for d in demands] == [Decimal("8928.571"), Decimal("8928.571"), Decimal("7142.858")]
    # 8,928.571 × 11.97 = 106,874.99487 → 106,874.99, VAT 12,824.9988 → 12,825.00;
    # × 1.58 = 14,107.14218 → 14,107.14, VAT 1,692.8568 → 1,692.86: 135,499.99
    # 7,142.858 × 11.97 = 85,500.01026 → 85,500.01, VAT 10,260.0012 → 10,260.00;
    # × 1.58 = 11,285.71564 → 11,285.72, VAT 1,354.2864 → 1,354.29: 108,400.02
    assert [d.charge.total for d in demands] == [kzt("135499.99"), kzt("135499.99"), kzt("108400.02")]
    # together 379,400.00: 25,000 × 15.176, February's invoice
    assert sum((d.charge.total for d in demands), kzt("0")) == kzt("379400.00")
    # before Tue 02-01: Jan 31, 28, 27 → 01-27; before Fri 02-11: Feb 10, 9, 8 → 02-08;
    # before Mon 02-21: Feb 18, 17, 16 → 02-16
    assert [d.due_date for d in demands] == [date(2022, 1, 27), date(2022, 2, 8), date(2022, 2, 16)]


def test_penalty_across_the_2022_02_24_rate_change():
    # January invoice 470,456.00 due 2022-02-08, paid 2022-03-01 (payment day counts).
    # Delay: 2022-02-09 … 2022-03-01 = 21 days; the base rate is 10.25% to 02-23, 13.50% from 02-24.
    #   slice 1: 02-09 … 02-23 = 15 days: 470,456 × 1.5 × 10.25% × 15/365
    #            470,456 × 1.5 = 705,684; × 0.1025 = 72,332.61; × 15 = 1,084,989.15;
    #            / 365: 365 × 2,972 = 1,084,780, remainder 209.15 / 365 = 0.5730 → 2,972.5730…
    #   slice 2: 02-24 … 03-01 = 6 days: 705,684 × 0.135 = 95,267.34; × 6 = 571,604.04;
    #            / 365: 365 × 1,566 = 571,590, remainder 14.04 / 365 = 0.0385 → 1,566.0385…
    #   total 2,972.5730 + 1,566.0385 = 4,538.6115 → rounded once, half-up: 4,538.61 KZT
    days = late_days(date(2022, 2, 8), date(2022, 3, 1), PenaltyTerms())
    assert days == (date(2022, 2, 9), date(2022, 3, 1))
    penalty = compute_penalty([LateAmount(kzt("470456.00"), *days)], base_rates(), PenaltyTerms(), KZT)
    assert [(s.first_day, s.last_day, s.days, s.rate_percent) for s in penalty.slices] == [
        (date(2022, 2, 9), date(2022, 2, 23), 15, Decimal("10.25")),
        (date(2022, 2, 24), date(2022, 3, 1), 6, Decimal("13.50")),
    ]
    assert round(penalty.slices[0].penalty, 4) == Decimal("2972.5730")
    assert round(penalty.slices[1].penalty, 4) == Decimal("1566.0385")
    assert penalty.total == kzt("4538.61")


def test_payment_on_the_due_date_or_before_has_no_penalty():
    assert late_days(date(2022, 2, 8), date(2022, 2, 8), PenaltyTerms()) is None
    # excluding the payment day: paid the day after the due date is not late at all
    assert late_days(date(2022, 2, 8), date(2022, 2, 9), PenaltyTerms(count_payment_day=False)) is None


def test_a_partly_paid_debt_accrues_on_what_was_late_each_day():
    # 100,000.00 late from 2022-03-01; 60,000 paid 03-10 (so 100,000 late 03-01…03-10), 40,000 late 03-11…03-20.
    # 13.50% all along: 100,000 × 1.5 × 13.5% × 10/365 = 554.7945; 40,000 × 1.5 × 13.5% × 10/365 = 221.9178
    # total 776.7123 → 776.71
    penalty = compute_penalty([LateAmount(kzt("100000.00"), date(2022, 3, 1), date(2022, 3, 10)),
                               LateAmount(kzt("40000.00"), date(2022, 3, 11), date(2022, 3, 20))],
                              base_rates(), PenaltyTerms(), KZT)
    assert penalty.total == kzt("776.71")


def item(item_id: str, kind: DebtKind, period: str, due: date, amount: str) -> OpenItem:
    return OpenItem(item_id, item_id.split(":")[0], kind, period, due, kzt(amount))


def test_allocation_pays_old_principal_then_penalties_then_the_current_period():
    items = [
        item("INV-03:energy", DebtKind.ENERGY, "2022-03", date(2022, 4, 7), "100.00"),
        item("PEN-01:penalty", DebtKind.PENALTY, "2022-01", date(2022, 3, 1), "10.00"),
        item("INV-01:vat", DebtKind.VAT, "2022-01", date(2022, 2, 8), "12.00"),
        item("INV-01:energy", DebtKind.ENERGY, "2022-01", date(2022, 2, 8), "100.00"),
        item("INV-02:energy", DebtKind.ENERGY, "2022-02", date(2022, 3, 9), "50.00"),
    ]
    # a payment in March (current period 2022-03) of 200.00:
    # Jan energy 100 → Jan VAT 12 → Feb energy 50 → Jan penalty 10 → March energy 28 of 100; nothing left
    result = allocate_payment(kzt("200.00"), items, "2022-03")
    assert [(s.item_id, s.amount) for s in result.slices] == [
        ("INV-01:energy", kzt("100.00")), ("INV-01:vat", kzt("12.00")), ("INV-02:energy", kzt("50.00")),
        ("PEN-01:penalty", kzt("10.00")), ("INV-03:energy", kzt("28.00"))]
    assert result.advance_left == kzt("0.00")


def test_a_payment_larger_than_the_debt_leaves_an_advance():
    result = allocate_payment(kzt("500000.00"), [item("INV-01:energy", DebtKind.ENERGY, "2022-01",
                                                      date(2022, 2, 8), "470456.00")], "2022-02")
    # 500,000.00 − 470,456.00 = 29,544.00 carried as advance (§5.8)
    assert result.advance_left == kzt("29544.00")
    postings = {p.account: p.amount for p in result.ledger_entry().postings}
    assert postings == {LedgerAccount.ADVANCE: kzt("470456.00"), LedgerAccount.RECEIVABLE_ENERGY: kzt("-470456.00")}
