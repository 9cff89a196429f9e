"""§5.6 the reconciliation act of mutual settlements: when the buyer's books disagree with the act, the cause is
established and corrections are made until the disagreement is settled.

The act's figures are the seller's (`queries.reconciliation`, invoices dated by their turnover, §5.5); the
buyer's are what its books give for the same month. A correction changes one side's closing balance: the
seller's by a document of the ledger, the buyer's by an entry of its own books. No I/O, no clock: the day of
the record is an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.invoicing.domain.account import Account, period_bounds
from services.invoicing.events import ActFigures, ReconciliationCorrection, ReconciliationDiscrepancyRecorded
from shared.errors import Conflict, ValidationFailed
from shared.events.registry import Event
from shared.money import Money

SIDES = ("seller", "buyer")


def record_discrepancy(state: Account, *, month: str, seller: ActFigures, buyer: ActFigures, cause: str,
                       corrections: Sequence[ReconciliationCorrection], recorded_on: date) -> list[Event]:
    """The buyer's figures of `month`'s act against the seller's (`seller`, the act as the ledger draws it), the
    cause and the corrections known so far; refused when the month is not over, the buyer's figures do not add
    up, or they agree with the act (nothing to settle)."""
    if recorded_on <= period_bounds(month)[1]:
        raise Conflict(f"{month} is not over: its act is drawn after its last day", reason="month_not_over",
                       details={"month": month, "today": recorded_on.isoformat()})
    amounts = [*_figures(buyer), *(c.amount for c in corrections)]
    if any(a.currency != state.currency for a in amounts):
        # against the contract's currency, which the request cannot state: 409
        raise Conflict(f"the contract settles in {state.currency}", reason="currency_mismatch",
                       details={"contract_currency": state.currency})
    if not all(a.is_rounded for a in amounts):
        raise ValidationFailed("amounts have at most two decimals", reason="unrounded_amount")
    if buyer.charged.is_negative or buyer.paid_or_credited.is_negative:
        raise ValidationFailed("what was charged and what was paid are not negative", reason="negative_turnover")
    if buyer.opening_balance + buyer.charged - buyer.paid_or_credited != buyer.closing_balance:
        raise ValidationFailed("the buyer's figures do not add up: opening + charged − paid is not the closing "
                               "balance", reason="figures_do_not_add_up")
    if not cause.strip():
        raise ValidationFailed("a discrepancy needs its cause", reason="missing_cause")
    if buyer == seller:
        raise Conflict(f"the buyer's figures agree with the act of {month}: there is nothing to settle",
                       reason="no_discrepancy")
    after = {side: sum((c.amount for c in corrections if c.side == side), Money.zero(state.currency))
             for side in SIDES}
    open_difference = (seller.closing_balance + after["seller"]) - (buyer.closing_balance + after["buyer"])
    return [ReconciliationDiscrepancyRecorded(
        contract_id=state.contract_id, month=month, seller=seller, buyer=buyer,
        difference=seller.closing_balance - buyer.closing_balance, cause=cause.strip(), corrections=list(corrections),
        open_difference=open_difference, settled=open_difference.is_zero, recorded_on=recorded_on)]


def _figures(figures: ActFigures) -> list[Money]:
    return [figures.opening_balance, figures.charged, figures.paid_or_credited, figures.closing_balance]
