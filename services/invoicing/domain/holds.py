"""What holds a document of an account out of collection, and until when.

- A dispute: a claim about the document is open (§9.2; in court, §9.3), or the buyer contests the volume act
  the invoice was charged from (§4.14). It holds until the dispute ends (the claim answered, a corrected act).
- A promise to pay by an agreed date: it holds through that date; a promise not kept lapses by itself.
- An installment agreement in force: it holds its documents (and its interest) until it is broken; while it
  holds, its documents draw no penalty either (the agreement's interest is what their days cost).

A held document draws no proposal of a collection run: no penalty on it, no notice or restriction for it,
and it does not count towards what is overdue. The holds are folded from the account's own events (they
came from the claims desk and metering, or a clerk recorded them), so a run replays to the same proposal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from services.invoicing.domain.penalty import PausedPeriod
from shared.money import Money


@dataclass(frozen=True)
class Dispute:
    """A dispute of `documents` from `opened_on` (a claim's or a contested act's), `closed_on` once it ended."""

    source: str                 # "claim" or "volume_act"
    reference: str              # the claim id or the act id
    documents: tuple[str, ...]
    opened_on: date
    closed_on: date | None = None


@dataclass(frozen=True)
class Promise:
    """The buyer's promise to pay `documents` by `pay_by`."""

    documents: tuple[str, ...]
    promised_on: date
    pay_by: date


@dataclass(frozen=True)
class Installment:
    number: int
    due_date: date
    principal: Money
    interest: Money


@dataclass(frozen=True)
class Agreement:
    """An installment agreement in force from `concluded_on` on `documents`, until `broken_on` (if ever)."""

    document_number: str
    documents: tuple[str, ...]
    concluded_on: date
    principal: Money
    installments: tuple[Installment, ...]
    broken_on: date | None = None

    def interest_document(self, number: int) -> str:
        return f"{self.document_number}-{number}"

    @property
    def last_due(self) -> date:
        return self.installments[-1].due_date

    def pause(self) -> PausedPeriod:
        """§5.7 the days its documents draw no penalty: from the conclusion until the day before the break."""
        return PausedPeriod(self.concluded_on, self.broken_on - timedelta(days=1) if self.broken_on else None)

    def missed(self, day: date, open_now: Money) -> Installment | None:
        """The first installment whose date is past on `day` and not paid: what was paid to the agreement so far
        (its principal and interest less what is open of them, `open_now`; §5.8 pays the old principal first)
        short of the installments to it."""
        paid = self.principal + sum((i.interest for i in self.installments), Money.zero(open_now.currency)) - open_now
        due_so_far = Money.zero(open_now.currency)
        for installment in self.installments:
            if installment.due_date >= day:
                return None
            due_so_far = due_so_far + installment.principal + installment.interest
            if paid < due_so_far:
                return installment
        return None


@dataclass(frozen=True)
class Hold:
    """Why `document` is out of collection on a day, and until when (none: until the dispute ends)."""

    document: str
    reason: str                 # "claim", "volume_act", "promise", "agreement", "write_off"
    reference: str
    until: date | None


def holds_on(day: date, disputes: Mapping[str, Dispute], promises: Mapping[str, Promise],
             agreements: Mapping[str, Agreement] | None = None) -> dict[str, Hold]:
    """Every document held on `day`, by document: an open dispute first (it holds longest, until it ends), then an
    installment agreement not broken (its documents and its interest), then a promise whose date is not past."""
    held: dict[str, Hold] = {}
    for promise_id, promise in sorted(promises.items()):
        if day <= promise.pay_by:
            for document in promise.documents:
                held[document] = Hold(document, "promise", promise_id, promise.pay_by)
    for number, agreement in sorted((agreements or {}).items()):
        if agreement.broken_on is None:
            covered = [*agreement.documents, *(agreement.interest_document(i.number) for i in agreement.installments)]
            for document in covered:
                held[document] = Hold(document, "agreement", number, agreement.last_due)
    for _dispute_id, dispute in sorted(disputes.items()):
        if dispute.closed_on is None:   # open as the account knows it now, whatever day the run is for
            for document in dispute.documents:
                held[document] = Hold(document, dispute.source, dispute.reference, None)
    return held
