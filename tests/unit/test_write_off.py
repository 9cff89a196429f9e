"""Proves the write-off of an uncollectable debt on the seed contract's January 2022, figures derived by hand beside
them: asked by one person of collections and approved only by another (four eyes), it takes the open amount out
of the receivables into `expense.write_off`; nothing of it is collected any more (no run proposes a penalty or a
notice on it); money paid later recovers it, oldest written off first, and the books balance and replay."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain import collection, write_off
from services.invoicing.domain.collection import CollectionDay
from services.invoicing.domain.postings import LedgerAccount
from services.invoicing.domain.rates import base_rates
from shared.approvals import OwnRequest
from shared.errors import Conflict
from tests.unit.test_account import CAL, Ledger, kzt

JANUARY = "INV-01/2021-85-2022-01"


def written_off() -> Ledger:
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))   # 420,050.00 + VAT 50,406.00 = 470,456.00
    ledger.do(write_off.request, request_id="REQ-W", documents=[JANUARY], reason="the buyer is in bankruptcy",
              written_off_on=date(2022, 6, 30), requested_by="test-collections")
    with pytest.raises(OwnRequest):
        write_off.approve(ledger.state, request_id="REQ-W", approved_by="test-collections")
    ledger.do(write_off.approve, request_id="REQ-W", approved_by="test-collections-2")
    return ledger


def test_a_write_off_takes_the_open_debt_out_of_the_receivables_and_out_of_collection():
    ledger = written_off()
    [event] = [e for e in ledger.events if e.event_type == "invoicing.DebtWrittenOff"]
    assert [(s.kind, s.amount) for s in event.slices] == [("energy", kzt("420050.00")), ("vat", kzt("50406.00"))]
    assert (event.amount, event.approval.approved_by) == (kzt("470456.00"), "test-collections-2")
    assert ledger.state.debt_total() == kzt("0.00")
    assert ledger.balance(LedgerAccount.WRITE_OFF_EXPENSE) == kzt("470456.00")
    # nothing is collected on it: a run proposes nothing, and lists it as held out (written off)
    numbers = itertools.count(1)
    lines, held = collection.propose(ledger.state, CollectionDay(date(2022, 7, 10), base_rates(), CAL),
                                     lambda: f"L{next(numbers)}")
    assert lines == [] and [(h.document, h.reason) for h in held] == [(JANUARY, "write_off")]
    with pytest.raises(Conflict) as again:   # nothing is open of it any more
        write_off.request(ledger.state, request_id="REQ-X", documents=[JANUARY], reason="twice",
                          written_off_on=date(2022, 7, 1), requested_by="test-collections")
    assert again.value.reason == "document_not_open"


def test_money_paid_later_recovers_it_oldest_first():
    ledger = written_off()
    # 100,000.00 on 1 August: nothing is open, so it recovers the written-off energy first (it was written off
    # first, by item), and the allocation pays it at once: 420,050.00 − 100,000.00 = 320,050.00 still written off
    received, recovered, allocated = ledger.pay("R-1", "100000.00", date(2022, 8, 1))
    assert [(s.kind, s.amount) for s in recovered.slices] == [("energy", kzt("100000.00"))]
    assert (allocated.advance_left, ledger.state.debt_total()) == (kzt("0.00"), kzt("0.00"))
    assert ledger.balance(LedgerAccount.WRITE_OFF_EXPENSE) == kzt("370456.00")
    # 400,000.00 on 2 August: the rest, 320,050.00 + 50,406.00 = 370,456.00, recovered; 29,544.00 held as advance
    _received, recovered, allocated = ledger.pay("R-2", "400000.00", date(2022, 8, 2))
    assert [(s.kind, s.amount) for s in recovered.slices] == [("energy", kzt("320050.00")), ("vat", kzt("50406.00"))]
    assert allocated.advance_left == kzt("29544.00") and ledger.state.written_off == {}
    assert ledger.balance(LedgerAccount.WRITE_OFF_EXPENSE) == kzt("0.00")
    # the books balance, and the account replays to the same state
    assert sum((p.amount for e in ledger.events for p in getattr(e, "postings", [])), kzt("0")).is_zero
    replayed = acc.fold(ledger.events)
    assert (replayed.written_off, replayed.advance, replayed.debt_total()) == (
        ledger.state.written_off, ledger.state.advance, ledger.state.debt_total())
