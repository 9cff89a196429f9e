"""Proves with hypothesis, on the settlement account itself, that any sequence of invoices, correcting invoices
(credit notes and extra charges), payments, penalty accruals, penalty waivers, payment reversals, prepayment
demands, day closes (which break an installment agreement whose installment is missed), collection runs (every
line proposed executed) and the reversal of their lines (a penalty reversed, a notice withdrawn), installment
agreements with their interest, write-offs and their recovery, terminations, refunds and their payouts keeps
the books: every entry balances, cash equals the
payments less the refunds paid out, what is payable back equals the refunds not yet paid out, the buyer's position
(debt − advance) equals what was charged less what was paid plus what was refunded, no debt goes negative, and
replaying the events rebuilds exactly the live state. A fixed history shows every one of those steps is reached."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.invoicing.domain import account as acc
from services.invoicing.domain import agreements, collection, write_off
from services.invoicing.domain import allocation as alloc
from services.invoicing.domain.collection import CollectionDay
from services.invoicing.domain.rates import base_rates, vat_rates
from shared.calendar import WorkingCalendar
from shared.errors import DomainError
from shared.events.contracts import ContractSigned
from shared.events.invoicing import Approval
from shared.money import Money
from tests.support import sealed_terms, seed_contract

TERMS = sealed_terms(seed_contract(), "c")
# a reversed line's action by its document's prefix
UNDONE = {"PEN-": "penalty", "RN-": "restriction_notice", "TN-": "termination_notice"}
CAL = WorkingCalendar()
RATES = base_rates()
VAT = vat_rates()

steps = st.lists(st.one_of(
    st.tuples(st.just("invoice"), st.integers(1, 6), st.integers(0, 60_000)),
    st.tuples(st.just("pay"), st.integers(1, 60_000_000), st.integers(0, 400)),
    st.tuples(st.just("penalties"), st.integers(0, 400)),
    st.tuples(st.just("close"), st.integers(0, 400)),
    st.tuples(st.just("collect"), st.integers(0, 400)),
    # the latest executed line that recorded a penalty, a restriction notice or a notice to end the contract
    st.tuples(st.just("undo"), st.sampled_from(sorted(UNDONE))),
    # every overdue invoice into an agreement of 1–4 installments, concluded on a day of the history
    st.tuples(st.just("agree"), st.integers(1, 4), st.integers(0, 400)),
    # everything open written off (asked, then approved by another person); later payments recover it
    st.tuples(st.just("writeoff"), st.integers(0, 400)),
    st.tuples(st.just("reverse"), st.integers(0, 24), st.integers(0, 400)),
    # a corrected act of a month already invoiced: less volume is a credit note, more an extra charge
    st.tuples(st.just("correct"), st.integers(1, 12), st.integers(0, 60_000), st.integers(0, 30)),
    # the n-th open penalty document, all of it (0) or a part in percent
    st.tuples(st.just("waive"), st.integers(0, 5), st.integers(0, 100)),
    st.tuples(st.just("prepay"), st.integers(1, 12)),
    # early in the year, so the last month supplied is often one the history invoices and a refund is reached
    st.tuples(st.just("terminate"), st.integers(2, 3)),
    st.tuples(st.just("refund"), st.integers(0, 800)),
    st.tuples(st.just("payout"), st.integers(0, 5), st.integers(0, 60)),
), min_size=1, max_size=25)

# the day the tests run on, past every business day they close: day close needs a day that is over
TODAY = date(2030, 1, 1)
CLOSING = {"today": TODAY}
APPROVAL = Approval(request_id="CR", requested_by="test-collections", approved_by="test-collections-2")


def money_sum(events, account: str) -> Money:
    total = Money.zero()
    for event in events:
        for posting in getattr(event, "postings", []):
            if posting.account == account:
                total = total + posting.amount
    return total


def apply_step(state: acc.Account, n: int, step: tuple, start: date) -> list:
    """The events one generated step records (a refused command raises `DomainError`)."""
    match step:
        case ("invoice", month, volume):
            return acc.issue_invoice(state, act_id=f"act-{month}", period=f"2022-{month:02d}",
                                     volume_kwh=Decimal(volume), issued_on=date(2022, month, 28) + timedelta(days=5),
                                     corrects_act_id=None, vat=VAT, calendar=CAL)
        case ("correct", month, volume, later):
            latest = state.latest_act.get(f"2022-{month:02d}")
            if latest is None:
                raise DomainError("nothing to correct", reason="test_nothing_to_correct")
            return acc.issue_invoice(state, act_id=f"act-{month}-c{n}", period=f"2022-{month:02d}",
                                     volume_kwh=Decimal(volume),
                                     issued_on=date(2022, month, 28) + timedelta(days=5 + later),
                                     corrects_act_id=latest, vat=VAT, calendar=CAL)
        case ("pay", tiyn, day):
            new = acc.receive_payment(state, payment_id=f"p{n}", bank_reference=f"r{n}",
                                      amount=Money.from_minor_units(tiyn), received_on=start + timedelta(days=day),
                                      payer=None, purpose=None, rates=RATES)
            # allocation reads the advance and open items after the receipt without copying the
            # account: they must be what folding the receipt into a copy gives
            after = acc.evolve(copy.deepcopy(state), new[0])
            assert acc._advance_and_open_items_after(state, new[:1]) == (after.advance, after.open_items())
            return new
        case ("penalties", day):
            return acc.accrue_penalties(state, as_of=start + timedelta(days=day), rates=RATES)
        case ("waive", index, percent):
            open_penalties = sorted(document for document, amount in state.penalties.items() if amount.is_positive)
            if not open_penalties:
                raise DomainError("no open penalty", reason="test_no_open_penalty")
            document = open_penalties[index % len(open_penalties)]
            part = (state.penalties[document] * Decimal(percent) / 100).rounded() if percent else None
            return acc.waive_penalty(state, document_number=document, amount=part, reason="goodwill",
                                     waived_on=start + timedelta(days=percent))
        case ("reverse", which, day):
            return acc.reverse_payment(state, bank_reference=f"r{which}", reason="posted in error",
                                       reversed_on=start + timedelta(days=day), rates=RATES)
        case ("prepay", month):
            return acc.request_prepayments(state, period=f"2022-{month:02d}", vat=VAT, calendar=CAL)
        case ("terminate", month):
            return acc.terminate(state, terminated_on=date(2022, month, 1), notice_document=f"T-{n}")
        case ("refund", day):
            return acc.issue_refund(state, refund_on=date(2022, 1, 1) + timedelta(days=day), rates=RATES)
        case ("payout", index, later):
            unpaid = sorted(document for document, refund in state.refunds.items() if refund.payment_order is None)
            if not unpaid:
                raise DomainError("no refund to pay out", reason="test_no_refund")
            document = unpaid[index % len(unpaid)]
            return acc.pay_out_refund(state, refund_document=document, payment_order_number=f"PP-{n}",
                                      payment_order_date=state.refunds[document].refund_on + timedelta(days=later))
        case ("close", day):
            return acc.close_day(state, day=start + timedelta(days=day), **CLOSING)
        case ("collect", day):
            return collect(state, f"CR-{n}", CollectionDay(start + timedelta(days=day), RATES, CAL))
        case ("undo", prefix):
            return undo(state, n, prefix)
        case ("agree", count, day):
            return agree(state, n, count, start + timedelta(days=day))
        case ("writeoff", day):
            documents = sorted({d.document for d in state.debts.values() if d.outstanding.is_positive})
            asked = write_off.request(state, request_id=f"REQ-{n}", documents=documents, reason="uncollectable",
                                      written_off_on=start + timedelta(days=day), requested_by="test-collections")
            after = acc.evolve(copy.deepcopy(state), asked[0])
            return asked + write_off.approve(after, request_id=f"REQ-{n}", approved_by="test-collections-2")
    raise AssertionError(f"no such step {step}")


def collect(state: acc.Account, run_id: str, facts: CollectionDay) -> list:
    """A run over the account: every line proposed, executed in turn on the account as each leaves it."""
    lines, _held = collection.propose(state, facts, iter(f"L{k}" for k in range(1, 100)).__next__)
    recorded: list = []
    for line in lines:
        new = collection.execute(state, line, run_id=run_id, facts=facts, approval=APPROVAL)
        for event in new:
            state = acc.evolve(copy.deepcopy(state), event)
        recorded += new
    return recorded


def undo(state: acc.Account, n: int, prefix: str) -> list:
    """The latest executed line whose document starts with `prefix`, reversed (asked, then approved by another)."""
    found = [key for key, documents in state.collected.items() if documents and documents[0].startswith(prefix)]
    if not found:
        raise DomainError("no such line", reason="test_no_line")
    run_id, line_id = found[-1].split("/")
    asked = collection.request_reversal(state, request_id=f"REQ-{n}", run_id=run_id, line_id=line_id,
                                        action=UNDONE[prefix], reason="taken back", reversed_on=state.closed_through
                                        or date(2022, 6, 1), requested_by="test-collections")
    state = acc.evolve(copy.deepcopy(state), asked[0])
    return asked + collection.approve_reversal(state, request_id=f"REQ-{n}", approved_by="test-collections-2")


def agree(state: acc.Account, n: int, count: int, on: date) -> list:
    """Every invoice overdue on `on` into an agreement (asked, then concluded by another person)."""
    overdue = tuple(sorted({d.document for d in state.debts.values() if d.kind in alloc.PRINCIPAL
                            and d.outstanding.is_positive and d.due_date < on}))
    terms = agreements.Terms(f"AG-{n}", overdue, on, on + timedelta(days=30), count, Decimal("11.5"))
    asked = agreements.propose(state, terms, request_id=f"REQ-{n}", requested_by="test-collections")
    state = acc.evolve(copy.deepcopy(state), asked[0])
    return asked + agreements.conclude(state, request_id=f"REQ-{n}", approved_by="test-collections-2")


def run_history(history: list[tuple]) -> tuple[acc.Account, list]:
    """The account after every step of `history` the rules took, and every event recorded, checking the books."""
    signed = ContractSigned(contract_id="c", signed_at=datetime(2021, 12, 7, tzinfo=UTC), terms=TERMS)
    events = acc.open_account(signed)
    state = acc.fold(events)
    payments = paid_out = refunded = Money.zero()
    start = date(2022, 2, 1)
    for n, step in enumerate(history):
        try:
            new = apply_step(state, n, step, start)
        except DomainError:
            continue  # a refused command records nothing
        for event in new:
            state = acc.evolve(state, event)
            if event.event_type == "invoicing.PaymentReceived":
                payments = payments + event.amount
            if event.event_type == "invoicing.PaymentReversed":
                payments = payments - event.amount
            if event.event_type == "invoicing.RefundIssued":
                refunded = refunded + event.amount
            if event.event_type == "invoicing.RefundPaidOut":
                paid_out = paid_out + event.amount
        events.extend(new)

    every_posting = [p.amount for e in events for p in getattr(e, "postings", [])]
    assert sum(every_posting, Money.zero()).is_zero
    # cash: what came in, less the refunds the treasury paid out
    assert money_sum(events, "cash") == payments - paid_out
    # owed back to the buyer: every refund issued and not yet paid out (a credit balance)
    assert -money_sum(events, "refund.payable") == refunded - paid_out == state.refunds_unpaid()
    receivables = (money_sum(events, "receivable.energy") + money_sum(events, "receivable.vat")
                   + money_sum(events, "receivable.penalty") + money_sum(events, "receivable.interest"))
    # what was charged, net of credit notes, waivers and penalties taken back by recalculations: the income
    # side, credits negative
    charged = -(money_sum(events, "revenue.energy") + money_sum(events, "revenue.res_surcharge")
                + money_sum(events, "vat.output") + money_sum(events, "income.penalty")
                + money_sum(events, "income.interest") + money_sum(events, "expense.write_off"))
    assert state.debt_total() == receivables
    assert -money_sum(events, "advance") == state.advance
    assert not state.advance.is_negative
    # the buyer's position: what they owe less what is held for them = what was charged less what they paid,
    # plus what was refunded to them (a refund takes money out of the advance)
    assert state.debt_total() - state.advance == charged - payments + refunded
    assert all(not d.outstanding.is_negative for d in state.debts.values())
    assert all(not amount.is_negative for amount in state.penalties.values())
    # an advance is never held while a debt is open: it would have been applied
    assert state.advance.is_zero or state.debt_total().is_zero
    replayed = acc.fold(events)
    assert {k: (d.outstanding, d.history) for k, d in replayed.debts.items()} == {
        k: (d.outstanding, d.history) for k, d in state.debts.items()}
    assert (replayed.advance, replayed.version, replayed.notice, replayed.restricted, replayed.demands,
            replayed.refunds, replayed.penalties, replayed.terminated_on) == (
        state.advance, state.version, state.notice, state.restricted, state.demands, state.refunds,
        state.penalties, state.terminated_on)
    return state, events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_books_balance_and_replay_for_any_history(history):
    run_history(history)


def test_every_kind_of_step_is_reached():
    """The generator's steps are not all refused: one fixed history through the same rules records each kind."""
    history = [
        ("prepay", 2),                       # February's demands, due before 1 February
        ("close", 0),                        # 1 February: nothing held
        ("collect", 0),                      # → a restriction notice, proposed and executed
        ("undo", "RN-"),                     # withdrawn: supply restored
        ("invoice", 1, 31_000),              # January: 470,456.00
        ("penalties", 40),                   # issued 2 February, due 9 February, open on 13 March: a penalty
        ("collect", 45),                     # 18 March: the penalty of 14–18 March, a notice, a termination notice
        ("undo", "PEN-"),                    # that penalty reversed
        ("undo", "TN-"),                     # the termination notice withdrawn
        ("waive", 0, 50),                    # half of the first penalty forgiven
        ("agree", 2, 47),                    # 20 March: January into 2 installments, 19 April and 19 May
        ("close", 80),                       # 22 April: the first unpaid → broken, the second's interest cancelled
        ("writeoff", 81),                    # 23 April: everything open written off
        ("pay", 100_000, 82),                # 1,000.00 on 24 April recovers part of it
        ("correct", 1, 30_000, 0),           # 1,000 kWh less: a credit note of 15,176.00
        ("pay", 60_000_000, 41),             # 600,000.00: pays everything, the rest held
        ("terminate", 4),                    # supply ends on 1 April: the last month supplied is March
        ("invoice", 3, 1_000),               # March invoiced, paid from the advance
        ("refund", 100),                     # 11 April: after the last supply day, the rest refunded
        ("payout", 0, 1),
    ]
    _, events = run_history(history)
    kinds = {event.event_type for event in events}
    assert {"invoicing.PrepaymentRequested", "invoicing.RestrictionNoticeIssued", "invoicing.PenaltyAccrued",
            "invoicing.PenaltyWaived", "invoicing.AccountTerminated", "invoicing.RefundIssued",
            "invoicing.RefundPaidOut", "invoicing.CollectionLineExecuted", "invoicing.RestrictionNoticeWithdrawn",
            "invoicing.PenaltyReversed", "invoicing.TerminationNoticeWithdrawn",
            "invoicing.CollectionLineReversed", "invoicing.InstallmentAgreementConcluded",
            "invoicing.InstallmentAgreementBroken", "invoicing.DebtWrittenOff", "invoicing.DebtRecovered"} <= kinds
    corrections = [e for e in events if e.event_type == "invoicing.InvoiceIssued" and e.corrects_document]
    # 1,000 kWh × 15.176 = 15,176.00 less: 13,550.00 net and 1,626.00 VAT taken off
    assert [(c.net.amount, c.vat.amount) for c in corrections] == [(Decimal("-13550.00"), Decimal("-1626.00"))]
