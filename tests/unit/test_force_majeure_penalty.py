"""Proves §8.1 on the penalty: the days of a force-majeure period the buyer relies on carry no penalty.
The claims desk announces a period only for a notice given in time (§8.3), and again when it ends; the
ledger records the buyer's period on the account, skips its days when accruing (§5.7), recalculates a
penalty already charged for them, and leaves the buyer's penalties alone for the seller's force majeure.

Figures by hand, on the seed contract's January 2022 invoice (470,456.00 due 2022-02-08, paid 2022-03-01,
the payment day counted; base rate 10.25% from 2022-01-25, 13.50% from 2022-02-24; 1.5 × the rate, /365):
  late 02-09 … 03-01 = 21 days; paused 02-15 … 02-20 = 6 days; 15 days left:
  02-09 … 02-14 = 6 days at 10.25%: 470,456 × 1.5 = 705,684; × 0.1025 = 72,332.61; × 6 = 433,995.66;
      / 365: 365 × 1,189 = 433,985, remainder 10.66 / 365 = 0.0292 → 1,189.0292
  02-21 … 02-23 = 3 days at 10.25%: 72,332.61 × 3 = 216,997.83;
      / 365: 365 × 594 = 216,810, remainder 187.83 / 365 = 0.5146 → 594.5146
  02-24 … 03-01 = 6 days at 13.50%: 705,684 × 0.135 = 95,267.34; × 6 = 571,604.04;
      / 365: 365 × 1,566 = 571,590, remainder 14.04 / 365 = 0.0385 → 1,566.0385
  total 1,189.0292 + 594.5146 + 1,566.0385 = 3,349.5823 → rounded once, half-up: 3,349.58 KZT
  (without the pause: 4,538.61, tests/unit/test_ledger_rules.py; the difference 1,189.03 is the 6 paused
  days at 10.25%: 72,332.61 × 6 / 365 = 1,189.0292)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.claims.domain import force_majeure
from services.invoicing.domain import account as acc
from services.invoicing.domain.penalty import LateAmount, PausedPeriod, PenaltyTerms, compute_penalty, late_days
from services.invoicing.domain.rates import base_rates
from services.invoicing.events import PenaltyPausedByForceMajeure, PenaltyRecalculated
from shared.events.claims import ForceMajeurePeriodRecorded
from shared.money import Money
from tests.unit.test_account import Ledger

KZT = "KZT"
PAUSE = PausedPeriod(date(2022, 2, 15), date(2022, 2, 20))


def kzt(text: str) -> Money:
    return Money(text, KZT)


def test_the_paused_days_are_left_out_of_the_penalty():
    """§8.1, §5.7 the 6 paused days split the 10.25% stretch; the penalty runs on the 15 days left."""
    days = late_days(date(2022, 2, 8), date(2022, 3, 1), PenaltyTerms())
    assert days is not None
    penalty = compute_penalty([LateAmount(kzt("470456.00"), *days)], base_rates(), PenaltyTerms(), KZT, [PAUSE])
    assert [(s.first_day, s.last_day, s.days, s.rate_percent) for s in penalty.slices] == [
        (date(2022, 2, 9), date(2022, 2, 14), 6, Decimal("10.25")),
        (date(2022, 2, 21), date(2022, 2, 23), 3, Decimal("10.25")),
        (date(2022, 2, 24), date(2022, 3, 1), 6, Decimal("13.50")),
    ]
    assert [round(s.penalty, 4) for s in penalty.slices] == [
        Decimal("1189.0292"), Decimal("594.5146"), Decimal("1566.0385")]
    assert penalty.total == kzt("3349.58")


def test_a_period_still_lasting_pauses_every_day_from_its_start():
    """§8.1 no end recorded yet: 02-15 … 03-01 are paused; only 02-09 … 02-14 run (1,189.0292 → 1,189.03)."""
    days = late_days(date(2022, 2, 8), date(2022, 3, 1), PenaltyTerms())
    assert days is not None
    lasting = PausedPeriod(date(2022, 2, 15))
    penalty = compute_penalty([LateAmount(kzt("470456.00"), *days)], base_rates(), PenaltyTerms(), KZT, [lasting])
    assert [(s.first_day, s.last_day) for s in penalty.slices] == [(date(2022, 2, 9), date(2022, 2, 14))]
    assert penalty.total == kzt("1189.03")


def late_january() -> Ledger:
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))  # due 2022-02-08
    ledger.pay("BANK-2", "470456.00", date(2022, 3, 1))
    return ledger


def pause(ledger: Ledger, party: str, ended_on: date | None = date(2022, 2, 20), posted_on=date(2022, 4, 5)):
    return ledger.do(acc.pause_penalties, notice_id="fm-1", party=party, started_on=date(2022, 2, 15),
                     ended_on=ended_on, rates=base_rates(), posted_on=posted_on)


def test_the_buyers_force_majeure_pauses_the_accrual():
    """§8.1 recorded before the accrual: the month's penalty is 3,349.58, not 4,538.61."""
    ledger = late_january()
    [paused] = pause(ledger, "buyer")
    assert isinstance(paused, PenaltyPausedByForceMajeure)
    assert (paused.first_day, paused.last_day) == (date(2022, 2, 15), date(2022, 2, 20))
    # the same announcement again (a redelivery) changes nothing
    assert pause(ledger, "buyer") == []
    [penalty, *_] = ledger.do(acc.accrue_penalties, as_of=date(2022, 3, 31), rates=base_rates())
    assert penalty.amount == kzt("3349.58")
    assert acc.fold(ledger.events).paused == {"fm-1": PAUSE}


def test_the_sellers_force_majeure_leaves_the_buyers_penalty():
    """§8.1 only the affected party is excused: the seller's force majeure does not excuse late payment."""
    ledger = late_january()
    assert pause(ledger, "seller") == []
    [penalty, *_] = ledger.do(acc.accrue_penalties, as_of=date(2022, 3, 31), rates=base_rates())
    assert penalty.amount == kzt("4538.61")


def test_a_period_recorded_after_the_accrual_recalculates_the_charged_penalty():
    """§8.1 the notice came after March's accrual (within 30 days of 02-15): 4,538.61 charged becomes
    3,349.58; the 1,189.03 difference comes off the open penalty document."""
    ledger = late_january()
    [accrued, *_] = ledger.do(acc.accrue_penalties, as_of=date(2022, 3, 1), rates=base_rates())
    assert accrued.amount == kzt("4538.61")
    paused, recalculated, *_ = pause(ledger, "buyer", ended_on=None, posted_on=date(2022, 3, 10))
    assert isinstance(paused, PenaltyPausedByForceMajeure) and paused.last_day is None
    assert isinstance(recalculated, PenaltyRecalculated)
    # still lasting: only 02-09 … 02-14 run → 1,189.03
    [window] = recalculated.windows
    assert (window.was, window.now) == (kzt("4538.61"), kzt("1189.03"))
    # its end recorded: 02-21 … 03-01 run again → 3,349.58, the 2,160.55 more a new penalty document
    _, again, *_ = pause(ledger, "buyer", ended_on=date(2022, 2, 20), posted_on=date(2022, 3, 12))
    assert isinstance(again, PenaltyRecalculated)
    [window] = again.windows
    assert (window.was, window.now) == (kzt("1189.03"), kzt("3349.58"))
    assert again.charged == kzt("2160.55")  # 3,349.58 − 1,189.03


def test_claims_announces_the_period_only_for_a_notice_in_time():
    """§8.2, §8.3 a notice within 30 days is announced (started, still lasting), and again when it ends;
    a late notice is recorded but never announced: the party may not rely on it."""
    def notify(notified_on: date):
        return force_majeure.notify_force_majeure(
            notice_id="fm-1", contract_id="k", party="buyer", started_on=date(2022, 2, 15), notified_on=notified_on,
            description="mudflow on the line", certificate="NCE-2022-3")

    # 02-15 + 30 days = 03-17, the last day in time
    notified, announced = notify(date(2022, 3, 17))
    assert isinstance(announced, ForceMajeurePeriodRecorded)
    assert (announced.party, announced.started_on, announced.ended_on) == ("buyer", date(2022, 2, 15), None)
    notice = force_majeure.evolve(force_majeure.evolve(None, notified), announced)
    _, ended = force_majeure.end_force_majeure(notice, ended_on=date(2022, 2, 20))
    assert isinstance(ended, ForceMajeurePeriodRecorded) and ended.ended_on == date(2022, 2, 20)

    [late] = notify(date(2022, 3, 18))
    assert late.notified_in_time is False
    [only_ended] = force_majeure.end_force_majeure(force_majeure.evolve(None, late), ended_on=date(2022, 2, 20))
    assert not isinstance(only_ended, ForceMajeurePeriodRecorded)
