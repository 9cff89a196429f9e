"""What holds a document of an account out of collection, and until when.

- A dispute: a claim about the document is open (§9.2; in court, §9.3), or the buyer contests the volume act
  the invoice was charged from (§4.14). It holds until the dispute ends (the claim answered, a corrected act).
- A promise to pay by an agreed date: it holds through that date; a promise not kept lapses by itself.

A held document draws no proposal of a collection run: no penalty on it, no notice or restriction for it,
and it does not count towards what is overdue. The holds are folded from the account's own events (they
came from the claims desk and metering, or a clerk recorded them), so a run replays to the same proposal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date


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
class Hold:
    """Why `document` is out of collection on a day, and until when (none: until the dispute ends)."""

    document: str
    reason: str                 # "claim", "volume_act", "promise", "agreement"
    reference: str
    until: date | None


def holds_on(day: date, disputes: Mapping[str, Dispute], promises: Mapping[str, Promise],
             agreements: Mapping[str, Hold] | None = None) -> dict[str, Hold]:
    """Every document held on `day`, by document: an open dispute first (it holds longest, until it ends), then an
    installment agreement in force, then a promise whose date is not past on `day`."""
    held: dict[str, Hold] = {}
    for promise_id, promise in sorted(promises.items()):
        if day <= promise.pay_by:
            for document in promise.documents:
                held[document] = Hold(document, "promise", promise_id, promise.pay_by)
    for document, hold in (agreements or {}).items():
        held[document] = hold
    for _dispute_id, dispute in sorted(disputes.items()):
        if dispute.closed_on is None:   # open as the account knows it now, whatever day the run is for
            for document in dispute.documents:
                held[document] = Hold(document, dispute.source, dispute.reference, None)
    return held
