"""Proves, on the seed contract with figures derived by hand, that prepayment demands follow the daily
applications where they are known (§5.3), that an amendment applies its prices and plans from its
effective date on (§11.3), that a performed contract is settled once at the day close, and that the
refund is the advance net of the last invoice it paid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.invoicing.domain import account as acc
from services.invoicing.domain.rates import base_rates, vat_rates
from services.invoicing.domain.terms import last_delivery_day, term_months
from services.invoicing.events import AccountTermsAmended, DayClosed
from shared.events.contracts import SealedContractTerms
from shared.events.invoicing import AccountSettled
from tests.support import sealed_terms, seed_contract
from tests.unit.test_account import CAL, CLOSING, Ledger, kzt


def prepayments(ledger: Ledger, period: str, applied: dict[date, Decimal]) -> list:
    return ledger.do(acc.request_prepayments, period=period, vat=vat_rates(), calendar=CAL, applied=applied)


def test_known_days_replace_the_plans_even_share_of_their_block():
    ledger = Ledger()
    # Jan 1–10: every day's accepted schedule is 20 h × 40 kWh = 800 kWh → 8,000 kWh
    applied = {date(2022, 1, day): Decimal(800) for day in range(1, 11)}
    # Jan 11 rejected ("no purchase", 0); Jan 12 accepted 1,200 kWh; Jan 13–20 unknown
    applied |= {date(2022, 1, 11): Decimal(0), date(2022, 1, 12): Decimal(1200)}
    demands = prepayments(ledger, "2022-01", applied)
    # block 2: 0 + 1,200 + plan 31,000 × 8/31 days = 8,000 → 9,200 kWh; blocks 21–30 and 31 none known: the
    # plan's even split, 10,000 kWh, and the remainder 31,000 − 3 × 10,000 = 1,000 kWh
    assert [d.volume_kwh for d in demands] == [Decimal(8000), Decimal(9200), Decimal(10000), Decimal(1000)]
    # per kWh 11.97 + 1.58 = 13.55, with VAT 12% 15.176 (each line's VAT exact to the tiyn here):
    # 8,000 × 15.176 = 121,408.00 (95,760.00 + 12,640.00 + VAT 11,491.20 + 1,516.80)
    # 9,200 × 15.176 = 139,619.20 (110,124.00 + 14,536.00 + VAT 13,214.88 + 1,744.32)
    # 10,000 × 15.176 = 151,760.00; 1,000 × 15.176 = 15,176.00
    assert [d.amount for d in demands] == [kzt("121408.00"), kzt("139619.20"), kzt("151760.00"), kzt("15176.00")]


def test_without_applications_the_plan_is_split_evenly():
    demands = prepayments(Ledger(), "2022-01", {})
    # 31,000 kWh over 31 days: 10,000 × 3 + 1,000 (the 31st); 10,000 × 15.176 = 151,760.00, 1,000 → 15,176.00
    assert [d.amount for d in demands] == [kzt("151760.00")] * 3 + [kzt("15176.00")]


def amendment(**changes) -> SealedContractTerms:
    return sealed_terms({**seed_contract(), **changes}, "c-1")


def test_an_amendment_prices_and_plans_from_its_effective_date_on():
    ledger = Ledger()
    new_terms = amendment(
        delivery_end="2024-01-01T00:00:00+01:00",
        price_schedule=[{"valid_from": "2022-01-01", "valid_to": None,
                         "components": [{"code": "cap_tariff", "rate_per_kwh": "12.50"},
                                        {"code": "res_surcharge", "rate_per_kwh": "1.58"}]}],
        planned_volumes=[{"month": "2022-06", "volume_kwh": "99999"}, {"month": "2022-07", "volume_kwh": "40000"},
                         {"month": "2023-01", "volume_kwh": "30000"}])
    [amended] = ledger.do(acc.amend_terms, kind="supplementary_agreement", document_number="SA-1",
                          document_date=date(2022, 6, 20), effective_from=date(2022, 7, 1),
                          summary="new cap tariff, one more year", terms=new_terms)
    assert isinstance(amended, AccountTermsAmended)
    # June keeps the old price: 30,000 × 11.97 = 359,100.00 + VAT 43,092.00; 30,000 × 1.58 = 47,400.00
    # + VAT 5,688.00 → 455,280.00
    [june] = ledger.invoice("act-06", "2022-06", "30000", date(2022, 7, 1))
    assert june.total == kzt("455280.00")
    # July at the new one: 31,000 × 12.50 = 387,500.00 + VAT 46,500.00; 31,000 × 1.58 = 48,980.00
    # + VAT 5,877.60 → 488,857.60
    [july] = ledger.invoice("act-07", "2022-07", "31000", date(2022, 8, 1))
    assert july.total == kzt("488857.60")
    plans = {p.month: p.volume_kwh for p in ledger.state.terms.planned_volumes}
    # June's plan is the old one (before the effective month), July's and 2023's the amendment's
    assert (plans["2022-06"], plans["2022-07"], plans["2023-01"]) == (Decimal(10000), Decimal(40000), Decimal(30000))
    assert "2022-08" not in plans  # the amendment's plan replaces the old one from July on
    assert last_delivery_day(ledger.state.terms) == date(2023, 12, 31)
    # the same amendment delivered twice changes nothing; a replay gives the same terms
    assert ledger.do(acc.amend_terms, kind="supplementary_agreement", document_number="SA-1",
                     document_date=date(2022, 6, 20), effective_from=date(2022, 7, 1), summary="again",
                     terms=new_terms) == []
    assert acc.fold(ledger.events).terms == ledger.state.terms


def closing(ledger: Ledger, day: date) -> list[str]:
    return [type(e).__name__ for e in ledger.do(acc.close_day, day=day, **CLOSING)]


def test_a_performed_contract_is_settled_once_at_the_day_close():
    # §3.1 the contract is performed: its term over, every month invoiced, nothing owed either way
    # a two-month term: supply from 2022-01-01 00:00 to 2022-03-01 00:00 (exclusive) in the contract's zone
    ledger = Ledger(delivery_end="2022-03-01T00:00:00+01:00")
    assert (last_delivery_day(ledger.state.terms), term_months(ledger.state.terms)) == (
        date(2022, 2, 28), ["2022-01", "2022-02"])
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))  # 470,456.00
    ledger.pay("B-1", "470456.00", date(2022, 2, 2))
    assert "AccountSettled" not in closing(ledger, date(2022, 2, 28))  # still in the term; February not invoiced
    # February: 25,000 × 15.176 = 379,400.00 (299,250.00 + 39,500.00 + VAT 35,910.00 + 4,740.00)
    [february] = ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 1))
    assert february.total == kzt("379400.00")
    assert "AccountSettled" not in closing(ledger, date(2022, 3, 1))  # February is owed
    ledger.pay("B-2", "379500.00", date(2022, 3, 2))  # 100.00 more than owed: held as advance
    assert ledger.state.advance == kzt("100.00")
    assert "AccountSettled" not in closing(ledger, date(2022, 3, 2))  # the advance is not yet refunded
    [refund] = ledger.do(acc.issue_refund, refund_on=date(2022, 3, 3), rates=base_rates())
    assert refund.amount == kzt("100.00")
    assert "AccountSettled" not in closing(ledger, date(2022, 3, 3))  # §5.8 the refund is owed until paid out
    ledger.do(acc.pay_out_refund, refund_document=refund.document_number, payment_order_number="PP-7",
              payment_order_date=date(2022, 3, 4))
    settled = ledger.do(acc.close_day, day=date(2022, 3, 4), **CLOSING)
    assert [type(e) for e in settled] == [AccountSettled, DayClosed]
    assert settled[0].settled_on == date(2022, 3, 4)
    assert "AccountSettled" not in closing(ledger, date(2022, 3, 5))  # once
    assert acc.fold(ledger.events).settled_on == date(2022, 3, 4)


def test_the_refund_is_what_is_left_of_the_advance_after_the_last_invoice():
    # a two-month term; January 31,000 kWh = 470,456.00, paid 500,000.00: 29,544.00 held as advance
    ledger = Ledger(delivery_end="2022-03-01T00:00:00+01:00")
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.pay("B-1", "500000.00", date(2022, 2, 2))
    assert ledger.state.advance == kzt("29544.00")
    # February 1,000 kWh × 15.176 = 15,176.00 (11,970.00 + 1,580.00 + VAT 1,436.40 + 189.60): the advance pays it
    ledger.invoice("act-02", "2022-02", "1000", date(2022, 3, 1))
    assert (ledger.state.debt_total(), ledger.state.advance) == (kzt("0.00"), kzt("14368.00"))
    # the refund is the advance net of the debt it settled: 29,544.00 − 15,176.00 = 14,368.00
    [refund] = ledger.do(acc.issue_refund, refund_on=date(2022, 3, 3), rates=base_rates())
    assert refund.amount == kzt("14368.00")


def test_the_prepayment_blocks_are_the_contracts_term():
    # §5.3 a contract that agreed to the month's decades: 1–10, 11–20, 21–31 (11 days: 11,000 kWh × 15.176)
    ledger = Ledger(prepayment={"blocks": "calendar_decades"})
    assert [d.amount for d in prepayments(ledger, "2022-01", {})] == [
        kzt("151760.00"), kzt("151760.00"), kzt("166936.00")]
    # amended to the ten-day blocks: a month demanded already is not demanded again (21–30 and the 31st lie in
    # the 21–31 block asked for), the next one is cut in tens: March 35,000 kWh over 31 days, 11,290.323 kWh a
    # block of ten days (35,000 × 10/31 = 11,290.3225…), the 31st the remainder 35,000 − 33,870.969 = 1,129.031
    ledger.do(acc.amend_terms, kind="supplementary_agreement", document_number="SA-2", document_date=date(2022, 1, 20),
              effective_from=date(2022, 2, 1), summary="prepayment in ten-day blocks",
              terms=amendment(prepayment={"blocks": "ten_days"}))
    assert prepayments(ledger, "2022-01", {}) == []
    assert [d.volume_kwh for d in prepayments(ledger, "2022-03", {})] == [Decimal("11290.323")] * 3 + [
        Decimal("1129.031")]
