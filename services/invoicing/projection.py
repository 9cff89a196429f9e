"""Invoicing's read models, folded from its events in the command's transaction.

- `accounts`: terms, debt (what the buyer owes) and advance (what the seller holds) per contract;
- `postings`: every double-entry line, the auditor's raw material;
- `statement_lines`: one line per document, its effect on the buyer's position (+ owes more);
- `debts`: open and closed debt items, for aging and statements; `payments`: by bank reference;
- `base_rates`: rates set by admins through the API, on top of the shipped table;
- `unidentified_receipts`: money no contract could be matched to, until an operator assigns it;
- `esf_registrations`: each invoice's ESF as registered in IS ESF (§5.5), the ESF register's entries.

One fold computes the rows of both paths (`AccountRows`): a command folds the events it appended and
writes them with one statement; a replay or `verify` folds whole accounts' histories, `REBUILD_STEP`
events or so at a time, in a worker process per core for a large history, and writes every row once
with COPY (`rows_of_contracts`, `shared/rebuild.py`). The fold reads the payloads in their JSON form (`Fact`), so
amounts, dates and document texts are written exactly as the events carry them, whichever path; invoices, payments
and allocations, nearly all of a history, as Structs of the fields it reads (`projection_payloads`), which a
rebuild decodes straight from the stored bytes and a command converts from the dict it holds.

The buyer comes sealed (the contract's key): the fold keeps it sealed in `accounts.terms` and no
personal field enters a statement line in clear; `accounts.buyer_name` and `accounts.buyer` are the buyer
opened with this service's copy of the key, filled once both are here, whichever came first, and blanked
on the key's tombstone (`personal_data.refresh`). A payment's purpose stays sealed in its line's details,
an unidentified receipt's payer and purpose in its row's `bank_line` (the receipt's own key): both are
opened where they are read.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing import collection_projection, personal_data, projection_sql, request_projection
from services.invoicing.events import (
    AccountOpened,
    AccountTermsAmended,
    BankGuaranteeCalled,
    BankGuaranteeRecorded,
    BaseRateSet,
    DebtRecovered,
    DebtWrittenOff,
    DepositApplied,
    DepositReceived,
    DepositRequested,
    DepositReturned,
    EsfRegistered,
    InstallmentAgreementBroken,
    InstallmentAgreementConcluded,
    InvoiceIssued,
    PaymentAllocated,
    PaymentReceived,
    PaymentReversed,
    PenaltyAccrued,
    PenaltyRecalculated,
    PenaltyReversed,
    PenaltyWaived,
    PrepaymentRequested,
    ReceiptAssigned,
    ReconciliationDiscrepancyRecorded,
    RefundIssued,
    RefundPaidOut,
    RestrictionNoticeIssued,
    RestrictionNoticeWithdrawn,
    UnidentifiedReceiptRecorded,
)
from services.invoicing.projection_payloads import (
    InvoiceIssuedFolded,
    PaymentAllocatedFolded,
    PaymentReceivedFolded,
    Posting,
    postings,
    stored_fact,
    typed,
)
from services.invoicing.projection_sql import (
    AccountChange,
    AccountRow,
    BaseRateRow,
    DebtChange,
    DebtRow,
    EsfRow,
    LineRow,
    PaymentChange,
    PaymentRow,
    PostingRow,
    ReceiptAssignment,
    ReceiptRow,
)
from shared.events import registry
from shared.events.invoicing import (
    SupplyRestored,
    SupplyRestricted,
    TerminationNoticeIssued,
    TerminationNoticeWithdrawn,
)
from shared.eventstore.store import EventStore
from shared.projector import Fact, Projector, facts_of
from shared.rebuild import RawEvent, Written, events_of_types, rebuild_by_copy

BUYER_SIDE = frozenset(("receivable.energy", "receivable.vat", "receivable.penalty", "receivable.interest", "advance"))
ZERO = projection_sql.ZERO
# events folded per rebuild step (whole contracts, so a step may hold a few more): large enough that
# COPY's per-statement cost vanishes, small enough that the steps in flight stay a few tens of megabytes
REBUILD_STEP = 20_000
REFUND_DESCRIPTION = "refund of the advance to the buyer's account"
REFUND_PAID_DESCRIPTION = "refund paid out"
DISCREPANCY = "reconciliation_discrepancy"   # the kind of a statement line of `ReconciliationDiscrepancyRecorded`
# the kinds of the statement lines of the security events (what `queries.deposits` reads back)
DEPOSIT_REQUEST, DEPOSIT_RECEIPT, DEPOSIT_APPLICATION, DEPOSIT_RETURN = (
    "deposit_request", "deposit_receipt", "deposit_application", "deposit_return")
GUARANTEE, GUARANTEE_CALL = "guarantee", "guarantee_call"
SECURITY_KINDS = (DEPOSIT_REQUEST, DEPOSIT_RECEIPT, DEPOSIT_APPLICATION, DEPOSIT_RETURN, GUARANTEE, GUARANTEE_CALL)
DEPOSIT_DOCUMENT = "security deposit"   # the document of a deposit's application: the deposit itself
_WITH_BUYER = frozenset((AccountOpened.event_type, AccountTermsAmended.event_type))
_LINE_NUMBERS = tuple(str(n) for n in range(32))   # a posting's line number as text, made once
_new_tuple = tuple.__new__


def _amount(money: dict) -> Decimal:
    return Decimal(money["amount"])


def _dumps(value) -> str:
    # jsonb keeps no formatting, so the text only has to parse to the same value
    return orjson.dumps(value).decode()


class AccountRows:
    """The rows a run of invoicing's events writes, computed in memory.

    Rows created by the run are kept whole and every later change of the run is folded into them,
    because one statement (or COPY) cannot insert a row and then update it. Rows created before the
    run get one summed change each. Currencies of accounts are remembered across runs (a notice
    carries none); the rest is emptied by `flush`.
    """

    def __init__(self, currencies: dict[str, str] | None = None) -> None:
        self.currencies = {} if currencies is None else currencies
        self.clear()

    def clear(self) -> None:
        self.accounts: dict[str, AccountRow] = {}                 # opened here, by contract
        self.account_changes: dict[str, AccountChange] = {}       # of accounts opened earlier, by contract
        self.debts: dict[tuple[str, str], DebtRow] = {}           # charged here (added to one that exists)
        self.debt_changes: dict[tuple[str, str], DebtChange] = {}  # of debts charged earlier, by (contract, item)
        self.payments: dict[str, PaymentRow] = {}                 # by payment id
        self.payment_changes: dict[str, PaymentChange] = {}       # of payments recorded earlier, by payment id
        self.receipts: dict[str, ReceiptRow] = {}                 # by bank reference
        self.assignments: dict[str, ReceiptAssignment] = {}       # of receipts recorded earlier, by bank reference
        self.base_rates: dict[str, BaseRateRow] = {}              # by effective date (the last one wins)
        self.lines: list[LineRow] = []
        self.esf_registrations: list[EsfRow] = []
        self.postings: list[PostingRow] = []
        self.currency_unknown = False   # a notice whose account was opened before this run, elsewhere

    def __bool__(self) -> bool:
        return bool(self.lines or self.accounts or self.account_changes or self.debts or self.debt_changes
                    or self.payments or self.payment_changes or self.receipts or self.assignments
                    or self.base_rates or self.esf_registrations)

    def fold(self, fact: Fact) -> None:
        """One event, its payload in its JSON form (a command's; a rebuild decodes its own, `rows_of_contracts`)."""
        _FOLDS[fact.event_type](self, fact, typed(fact.event_type, fact.payload))

    def fold_all(self, facts: list[Fact]) -> "AccountRows":
        for fact in facts:
            self.fold(fact)
        return self

    async def flush(self, conn: AsyncConnection) -> None:
        """Write the rows in one statement (a command's; a rebuild writes whole histories by COPY,
        `rows_of_contracts`)."""
        if self:
            await self._resolve_currencies(conn)
            await projection_sql.write(conn, self)
        self.clear()

    async def _resolve_currencies(self, conn: AsyncConnection) -> None:
        if self.currency_unknown:
            missing = {line.contract_id for line in self.lines if line.currency is None}
            rows = await conn.execute(text("SELECT contract_id, currency FROM accounts WHERE contract_id = ANY(:c)"),
                                      {"c": sorted(missing)})
            self.currencies.update({row.contract_id: row.currency for row in rows})
            # a notice of an account that exists
            self.lines = [line if line.currency is not None else line._replace(currency=self.currencies[line.contract_id])
                          for line in self.lines]

    # ---- the pieces every money event shares -------------------------------------------------------
    def _post(self, fact: Fact, lines: list[Posting], business_date: str, kind: str, document: str,
              description: str, currency: str | None, details: dict, line_date: str | None = None) -> None:
        """One statement line and the event's postings; the account moves by the buyer's side. The postings are
        dated `business_date` (the posting date); the line `line_date` when it differs (an invoice's turnover)."""
        # rows of these two tables are all text (COPY and the statement's arrays take them as they are); the
        # postings are the most numerous rows of a rebuild (three or more an event): their loop is kept lean, each
        # row one text (`PostingRow`) of the event's parts made once and the posting's own values
        contract_id, position, recorded_at, event_type = fact.contract_id, str(fact.position), fact.recorded_at, \
            fact.event_type
        buyer = advance = balance = ZERO
        numbers = _LINE_NUMBERS if len(lines) <= len(_LINE_NUMBERS) else [str(n) for n in range(len(lines))]
        append = self.postings.append
        head, middle, tail = f"{position}\t", f"\t{contract_id}\t{event_type}\t", f"\t{business_date}\t{recorded_at}"
        for number, posting in zip(numbers, lines, strict=False):   # numbers: as many or more
            account, money = posting.account, posting.amount
            text_amount = money.amount
            amount = Decimal(text_amount)
            balance += amount
            if account in BUYER_SIDE:
                buyer += amount
                if account == "advance":
                    advance -= amount
            append(f"{head}{number}{middle}{account}\t{text_amount}\t{money.currency}{tail}")
        # made as the tuple it is: `LineRow`'s own constructor is a Python function, a fifth of a microsecond an event
        self.lines.append(_new_tuple(LineRow, (position, contract_id, line_date or business_date, recorded_at, kind,
                                               document, description, str(buyer), currency, _dumps(details))))
        if not lines:
            return
        assert balance == 0, "every entry balances"
        row = self.accounts.get(contract_id)
        if row is not None:
            row.balance += buyer
            row.advance += advance
            row.debt += buyer + advance
            row.version = fact.stream_version
            return
        change = self._account_change(contract_id)
        change.balance += buyer
        change.advance += advance
        change.version = fact.stream_version

    def _account_change(self, contract_id: str) -> AccountChange:
        change = self.account_changes.get(contract_id)
        if change is None:
            change = self.account_changes[contract_id] = AccountChange(contract_id)
        return change

    def _charge(self, contract_id: str, item_id: str, document: str, kind: str, period: str, due: str,
                amount: Decimal, currency: str, released: Decimal = ZERO) -> None:
        key = (contract_id, item_id)
        row = self.debts.get(key)
        if amount < 0:
            # a correction that lowers an existing debt; what it takes off beyond the open amount went back
            # to the advance, so outstanding stops at zero (the CHECK would refuse a negative debt)
            if row is not None:
                row.charged += amount
                row.outstanding += amount + released
            else:
                change = self._debt_change(key)
                change.charged += amount
                change.outstanding += amount + released
            return
        if row is not None:
            row.charged += amount
            row.outstanding += amount
            return
        earlier = self.debt_changes.pop(key, None) if self.debt_changes else None   # none in a whole history
        # written as an upsert: added to the debt if one of that item exists already
        self.debts[key] = DebtRow(item_id, contract_id, document, kind, period, due,
                                  amount + earlier.charged if earlier else amount,
                                  amount + earlier.outstanding if earlier else amount, currency)

    def _debt_change(self, key: tuple[str, str]) -> DebtChange:
        change = self.debt_changes.get(key)
        if change is None:
            change = self.debt_changes[key] = DebtChange(*key)
        return change

    def _pay(self, contract_id: str, item_id: str, amount: Decimal) -> None:
        key = (contract_id, item_id)
        row = self.debts.get(key)
        if row is not None:
            row.outstanding -= amount
        else:
            self._debt_change(key).outstanding -= amount

    def _allocations(self, payment_id: str, allocations: list, advance_left: str | None) -> None:
        row: PaymentRow | PaymentChange | None = self.payments.get(payment_id)
        if row is None:
            # a payment recorded earlier, or a charge's id (allocations it triggered have no payment row)
            row = self.payment_changes.get(payment_id)
            if row is None:
                row = self.payment_changes[payment_id] = PaymentChange(payment_id)
        row.allocations += allocations
        if advance_left is not None:
            row.advance_left = advance_left

    # ---- one method per event type ----------------------------------------------------------------
    def account_opened(self, fact: Fact, p: dict) -> None:
        terms = p["terms"]
        self.currencies[p["contract_id"]] = terms["currency"]
        # the buyer's name is filled by `personal_data.refresh` once this service holds the contract's key
        self.accounts[p["contract_id"]] = AccountRow(p["contract_id"], terms["number"], None, terms["currency"],
                                                     terms["time_zone"], ZERO, _dumps(terms), fact.occurred_at,
                                                     fact.stream_version, ZERO, ZERO)

    def terms_amended(self, fact: Fact, p: dict) -> None:
        terms = p["terms"]
        row: AccountRow | AccountChange | None = self.accounts.get(p["contract_id"])
        if row is None:
            row = self._account_change(p["contract_id"])
        row.contract_number, row.time_zone, row.terms = terms["number"], terms["time_zone"], _dumps(terms)
        # none: a new row's is filled, an earlier one's kept, by `personal_data.refresh` from the amended terms
        row.buyer_name = None

    def invoice(self, fact: Fact, p: InvoiceIssuedFolded) -> None:
        currency = p.total.currency
        released = {piece.item_id: Decimal(piece.amount.amount) for piece in p.released_to_advance}
        for kind, money in (("energy", p.net), ("vat", p.vat)):
            amount = Decimal(money.amount)
            if not amount:
                continue
            document = p.corrects_document if amount < 0 else p.document_number
            item_id = f"{document}:{kind}"
            self._charge(p.contract_id, item_id, document, kind, p.period, p.due_date, amount, currency,
                         released.pop(item_id, ZERO))
        assert not released, "only lowered debts release money to the advance"
        title = "correcting invoice" if p.corrects_document else "invoice"
        # §5.5 the buyer books the charge on its ESF's date, the last day of the period: statements and acts date
        # the line so (and keep the day it was issued); the postings keep the day the ledger booked it
        self._post(fact, p.postings, p.invoice_date, "invoice", p.document_number,
                   f"{title} {p.period}: {p.volume_kwh} kWh", currency,
                   {"net": p.net.amount, "vat": p.vat.amount, "due_date": p.due_date, "esf_date": p.esf_date,
                    "esf_deadline": p.esf_deadline, "period": p.period, "issued_on": p.invoice_date,
                    "corrects": p.corrects_document},
                   line_date=p.esf_date)

    def penalty(self, fact: Fact, p: dict) -> None:
        money = p["amount"]
        self._charge(p["contract_id"], f"{p['document_number']}:penalty", p["document_number"], "penalty",
                     p["period"], p["accrued_through"], _amount(money), money["currency"])
        self._post(fact, postings(p), p["accrued_through"], "penalty", p["document_number"],
                   f"penalty on {p['late_item_id']} through {p['accrued_through']}", money["currency"],
                   {"slices": p["slices"]})

    def waiver(self, fact: Fact, p: dict) -> None:
        self._pay(p["contract_id"], f"{p['document_number']}:penalty", _amount(p["amount"]))
        self._post(fact, postings(p), p["waived_on"], "waiver", p["document_number"],
                   f"penalty waived: {p['reason']}", p["amount"]["currency"], {"reason": p["reason"]})

    def prepayment(self, fact: Fact, p: dict) -> None:
        # a demand, not a debt: it moves no money, so the statement shows it with amount 0 and its figure
        self._post(fact, [], datetime.fromisoformat(fact.occurred_at).date().isoformat(), "prepayment_request",
                   p["document_number"], f"prepayment for {p['first_day']}…{p['last_day']}: {p['volume_kwh']} kWh, "
                                         f"due {p['due_date']}", p["amount"]["currency"],
                   {"amount": p["amount"]["amount"], "due_date": p["due_date"]})

    def notice(self, fact: Fact, p: dict) -> None:
        """Notices move no money: statement lines with amount 0 that cite their figures."""
        day = p.get("issued_on") or p.get("restricted_from") or p.get("restored_on") or p.get("withdrawn_on")
        document = p.get("document_number") or p.get("notice_document", "")
        description = registry.type_of(fact.event_type).__doc__.strip().splitlines()[0]
        currency = self.currencies.get(p["contract_id"])
        self.currency_unknown = self.currency_unknown or currency is None
        self._post(fact, [], day, fact.event_type.split(".")[-1], document, description, currency, p)

    def refund(self, fact: Fact, p: dict) -> None:
        # the payee's requisites stay sealed in the event: a statement line is no place for them
        self._post(fact, postings(p), p["refund_on"], "refund", p["document_number"], REFUND_DESCRIPTION,
                   p["amount"]["currency"], {})

    def refund_paid_out(self, fact: Fact, p: dict) -> None:
        # the seller's cash pays what it owed the buyer: the buyer's position does not move (amount 0)
        self._post(fact, postings(p), p["payment_order_date"], "refund_payout", p["refund_document"],
                   REFUND_PAID_DESCRIPTION, p["amount"]["currency"],
                   {"payment_order_number": p["payment_order_number"], "amount": p["amount"]["amount"]})

    def payment_received(self, fact: Fact, p: PaymentReceivedFolded) -> None:
        money = p.amount
        self.payments[p.payment_id] = PaymentRow(p.bank_reference, p.payment_id, p.contract_id, money.amount,
                                                 money.currency, p.received_on, [], None)
        # dated by its posting date: a late value date is booked in the open period, never in a closed one; the
        # purpose stays sealed as the event carries it, opened where it is read (`personal_data.purposes_opened`)
        details = {"payment_id": p.payment_id, "value_date": p.received_on}
        if p.purpose is not None:
            details["purpose"] = p.purpose
        self._post(fact, p.postings, p.posted_on or p.received_on, "payment", p.bank_reference,
                   personal_data.PAYMENT_DESCRIPTION, money.currency, details)

    def payment_allocated(self, fact: Fact, p: PaymentAllocatedFolded) -> None:
        # §5.8 debt first: the slices say which debts the advance paid, oldest first
        slices = [{"item_id": s.item_id, "document": s.document, "kind": s.kind, "period": s.period,
                   "amount": s.amount.amount} for s in p.slices]
        for piece in p.slices:
            self._pay(p.contract_id, piece.item_id, Decimal(piece.amount.amount))
        left = p.advance_left
        self._allocations(p.trigger, slices, left.amount)
        self._post(fact, p.postings, p.posted_on or p.allocated_on, "allocation", p.trigger,
                   f"advance applied ({p.policy})", left.currency,
                   {"slices": slices, "advance_left": left.amount, "value_date": p.allocated_on})

    def penalty_recalculated(self, fact: Fact, p: dict) -> None:
        contract_id, currency = p["contract_id"], p["charged"]["currency"]
        for piece in p["reduced"]:
            self._pay(contract_id, piece["item_id"], _amount(piece["amount"]))
        charged = _amount(p["charged"])
        if charged:
            self._charge(contract_id, f"{p['document_number']}:penalty", p["document_number"], "penalty", p["period"],
                         p["posted_on"], charged, currency)
        self._post(fact, postings(p), p["posted_on"], "penalty_recalculation", p["document_number"],
                   f"penalty on {p['late_item_id']} recalculated: {p['cause']}", currency,
                   {"windows": p["windows"], "slices": p["slices"], "released_to_advance":
                    p["released_to_advance"]["amount"]})

    def penalty_reversed(self, fact: Fact, p: dict) -> None:
        """§5.7 a penalty taken back: its open part off the debt; its paid part is the advance's again (the
        allocation that follows, if any, pays what is open with it)."""
        self._pay(p["contract_id"], f"{p['document_number']}:penalty", _amount(p["reduced"]))
        self._post(fact, postings(p), p["reversed_on"], "penalty_reversal", p["document_number"],
                   f"penalty reversed: {p['reason']}", p["reduced"]["currency"],
                   {"reduced": p["reduced"]["amount"], "released_to_advance": p["released_to_advance"]["amount"],
                    "approval": p["approval"]})

    def agreement(self, fact: Fact, p: dict) -> None:
        """An installment agreement: each installment's interest a debt of its own, due on its date."""
        currency = p["principal"]["currency"]
        for installment in p["installments"]:
            interest = _amount(installment["interest"])
            if interest:
                document = f"{p['document_number']}-{installment['number']}"
                self._charge(p["contract_id"], f"{document}:interest", document, "interest",
                             installment["due_date"][:7], installment["due_date"], interest, currency)
        self._post(fact, postings(p), p["concluded_on"], "installment_agreement", p["document_number"],
                   f"installment agreement: {p['principal']['amount']} in {len(p['installments'])} installments at "
                   f"{p['rate_percent']}% a year", currency,
                   {"documents": p["documents"], "installments": p["installments"], "rate_percent": p["rate_percent"],
                    "approval": p["approval"]})

    def agreement_broken(self, fact: Fact, p: dict) -> None:
        """A missed installment: the interest not yet due is cancelled."""
        for piece in p["cancelled"]:
            self._pay(p["contract_id"], piece["item_id"], _amount(piece["amount"]))
        self._post(fact, postings(p), p["broken_on"], "installment_agreement_broken", p["document_number"],
                   f"installment {p['missed_installment']} missed: {p['principal_open']['amount']} returns to "
                   f"collection", p["principal_open"]["currency"], {"cancelled": p["cancelled"]})

    def written_off(self, fact: Fact, p: dict) -> None:
        """Uncollectable debt out of the receivables (still owed: the statement shows it as the buyer's no more)."""
        for piece in p["slices"]:
            self._pay(p["contract_id"], piece["item_id"], _amount(piece["amount"]))
        self._post(fact, postings(p), p["written_off_on"], "write_off", ", ".join(p["documents"]),
                   f"written off: {p['reason']}", p["amount"]["currency"],
                   {"slices": p["slices"], "approval": p["approval"]})

    def recovered(self, fact: Fact, p: dict) -> None:
        """Written-off debt owed again by the money that recovers it (the allocation that follows pays it)."""
        for piece in p["slices"]:
            self._pay(p["contract_id"], piece["item_id"], -_amount(piece["amount"]))
        self._post(fact, postings(p), p["recovered_on"], "write_off_recovery", p["trigger"],
                   "written-off debt recovered", p["amount"]["currency"], {"slices": p["slices"]})

    def payment_reversed(self, fact: Fact, p: dict) -> None:
        for piece in p["reopened"]:
            self._pay(p["contract_id"], piece["item_id"], -_amount(piece["amount"]))
        self._allocations(p["payment_id"], [{"reversed": True, "reason": p["reason"],
                                             "reversed_on": p["reversed_on"]}], None)
        self._post(fact, postings(p), p["reversed_on"], "reversal", p["bank_reference"],
                   f"payment reversed: {p['reason']}", p["amount"]["currency"], {"reopened": p["reopened"]})

    # ---- security: the deposit (its own account, `deposit.held`) and bank guarantees ----------------------------
    # the buyer's position is what it owes for supply: a deposit received or returned leaves it as it was (amount 0,
    # the figure in the details); what the deposit or a guarantee's bank paid lowers it
    def deposit_requested(self, fact: Fact, p: dict) -> None:
        self._post(fact, [], p["requested_on"], DEPOSIT_REQUEST, p["document_number"],
                   f"security deposit asked for, due {p['due_date']}: {p['reason']}", p["amount"]["currency"],
                   {"amount": p["amount"]["amount"], "due_date": p["due_date"], "reason": p["reason"]})

    def deposit_received(self, fact: Fact, p: dict) -> None:
        self._post(fact, postings(p), p["received_on"], DEPOSIT_RECEIPT, p["bank_reference"],
                   f"security deposit {p['deposit_document']} received: held, not advance", p["amount"]["currency"],
                   {"deposit_document": p["deposit_document"], "amount": p["amount"]["amount"],
                    "value_date": p["received_on"]})

    def deposit_applied(self, fact: Fact, p: dict) -> None:
        for piece in p["slices"]:
            self._pay(p["contract_id"], piece["item_id"], _amount(piece["amount"]))
        self._post(fact, postings(p), p["applied_on"], DEPOSIT_APPLICATION, DEPOSIT_DOCUMENT,
                   f"security deposit applied ({p['cause']}): {p['reason']}", p["amount"]["currency"],
                   {"cause": p["cause"], "amount": p["amount"]["amount"], "held_left": p["held_left"]["amount"],
                    "slices": p["slices"], "approval": p.get("approval")})

    def deposit_returned(self, fact: Fact, p: dict) -> None:
        self._post(fact, postings(p), p["returned_on"], DEPOSIT_RETURN, p["document_number"],
                   "security deposit returned with the final settlement", p["amount"]["currency"],
                   {"amount": p["amount"]["amount"], "payment_order_number": p["payment_order_number"],
                    "approval": p["approval"]})

    def guarantee_recorded(self, fact: Fact, p: dict) -> None:
        self._post(fact, [], p["recorded_on"], GUARANTEE, p["guarantee_number"],
                   f"bank guarantee of {p['bank_name']}, valid {p['valid_from']} … {p['valid_until']}",
                   p["amount"]["currency"],
                   {"bank_name": p["bank_name"], "bank_bic": p["bank_bic"], "amount": p["amount"]["amount"],
                    "valid_from": p["valid_from"], "valid_until": p["valid_until"]})

    def guarantee_called(self, fact: Fact, p: dict) -> None:
        for piece in p["slices"]:
            self._pay(p["contract_id"], piece["item_id"], _amount(piece["amount"]))
        self._post(fact, postings(p), p["called_on"], GUARANTEE_CALL, p["guarantee_number"],
                   "bank guarantee called for debt past due: paid by the bank", p["amount"]["currency"],
                   {"bank_reference": p["bank_reference"], "amount": p["amount"]["amount"],
                    "remaining": p["remaining"]["amount"], "slices": p["slices"], "value_date": p["called_on"]})

    def discrepancy(self, fact: Fact, p: dict) -> None:
        """§5.6 moves no money: a statement line with amount 0 on the day it was recorded, the record its details
        (the month's act reads them back, `queries.reconciliation`)."""
        self._post(fact, [], p["recorded_on"], DISCREPANCY, f"reconciliation {p['month']}",
                   f"reconciliation act {p['month']}: the buyer's books differ by {p['difference']['amount']}"
                   f" ({'settled' if p['settled'] else 'open: ' + p['open_difference']['amount']})",
                   p["difference"]["currency"], p)

    def esf_registered(self, fact: Fact, p: dict) -> None:
        """§5.5 moves no money and makes no statement line: the register's row (`esf_registrations`)."""
        self.esf_registrations.append(EsfRow(p["contract_id"], p["invoice_document"], p["registration_number"],
                                             p["issued_on"], p["esf_deadline"], p["late"], str(fact.position)))

    def base_rate(self, fact: Fact, p: dict) -> None:
        self.base_rates[p["effective_from"]] = BaseRateRow(p["effective_from"], p["rate_percent"], p["source"])

    def unidentified(self, fact: Fact, p: dict) -> None:
        money = p["amount"]
        assert p["bank_reference"] not in self.receipts, "a receipt is recorded once"
        # the payer and purpose stay sealed with the receipt's key, opened where they are read (`receipt_keys.py`)
        self.receipts[p["bank_reference"]] = ReceiptRow(p["bank_reference"], money["amount"], money["currency"],
                                                        p["received_on"], _dumps(p["bank_line"]), p["why"], None)

    def assigned(self, fact: Fact, p: dict) -> None:
        row = self.receipts.get(p["bank_reference"])
        if row is not None:
            row.assigned_to = p["assigned_contract_id"]
        else:
            self.assignments[p["bank_reference"]] = ReceiptAssignment(p["bank_reference"], p["assigned_contract_id"])


_FOLDS = {
    AccountOpened.event_type: AccountRows.account_opened,
    AccountTermsAmended.event_type: AccountRows.terms_amended,
    InvoiceIssued.event_type: AccountRows.invoice,
    PenaltyAccrued.event_type: AccountRows.penalty,
    PenaltyWaived.event_type: AccountRows.waiver,
    ReconciliationDiscrepancyRecorded.event_type: AccountRows.discrepancy,
    PrepaymentRequested.event_type: AccountRows.prepayment,
    BaseRateSet.event_type: AccountRows.base_rate,
    EsfRegistered.event_type: AccountRows.esf_registered,
    UnidentifiedReceiptRecorded.event_type: AccountRows.unidentified,
    ReceiptAssigned.event_type: AccountRows.assigned,
    RestrictionNoticeIssued.event_type: AccountRows.notice,
    SupplyRestricted.event_type: AccountRows.notice,
    SupplyRestored.event_type: AccountRows.notice,
    TerminationNoticeIssued.event_type: AccountRows.notice,
    TerminationNoticeWithdrawn.event_type: AccountRows.notice,
    RestrictionNoticeWithdrawn.event_type: AccountRows.notice,
    PenaltyReversed.event_type: AccountRows.penalty_reversed,
    InstallmentAgreementConcluded.event_type: AccountRows.agreement,
    InstallmentAgreementBroken.event_type: AccountRows.agreement_broken,
    DebtWrittenOff.event_type: AccountRows.written_off,
    DebtRecovered.event_type: AccountRows.recovered,
    RefundIssued.event_type: AccountRows.refund,
    RefundPaidOut.event_type: AccountRows.refund_paid_out,
    PaymentReceived.event_type: AccountRows.payment_received,
    PaymentAllocated.event_type: AccountRows.payment_allocated,
    PaymentReversed.event_type: AccountRows.payment_reversed,
    PenaltyRecalculated.event_type: AccountRows.penalty_recalculated,
    DepositRequested.event_type: AccountRows.deposit_requested,
    DepositReceived.event_type: AccountRows.deposit_received,
    DepositApplied.event_type: AccountRows.deposit_applied,
    DepositReturned.event_type: AccountRows.deposit_returned,
    BankGuaranteeRecorded.event_type: AccountRows.guarantee_recorded,
    BankGuaranteeCalled.event_type: AccountRows.guarantee_called,
}


_UPSERT_DAY = text("""
    INSERT INTO daily_applications (contract_id, day, volume_kwh, application_id, source_event)
    VALUES (:c, :d, :v, :a, :e)
    ON CONFLICT (contract_id, day) DO UPDATE
        SET volume_kwh = excluded.volume_kwh, application_id = excluded.application_id,
            source_event = excluded.source_event
""")


async def note_applied_day(conn: AsyncConnection, contract_id: str, day: date, volume_kwh: Decimal,
                           application_id: str | None, source_event: str) -> None:
    """A day's schedule as the contracts service last decided it (`daily_applications`, what prepayment demands
    plan by): kept from its events as they arrive, not folded from this store, so a rebuild leaves it."""
    await conn.execute(_UPSERT_DAY, {"c": contract_id, "d": day, "v": volume_kwh, "a": application_id,
                                     "e": source_event})


class InvoicingProjector(Projector):
    """Folds events into `AccountRows`: a command's events are written by one statement; a rebuild folds
    whole accounts' histories and writes each row once with COPY."""

    bulk = True

    async def apply(self, conn: AsyncConnection, events, decoded=None) -> None:
        assert decoded is None or len(decoded) == len(events)
        rows = AccountRows()
        collected, requests = [], []
        requested = request_projection.folded_types()
        for stored in events:
            event_type = stored.envelope.event_type
            fact = Fact.of(stored, self.registry) if (event_type in _FOLDS or event_type in requested
                                                      or event_type in collection_projection.FOLDS) else None
            if event_type in _FOLDS:
                rows.fold(fact)
            if event_type in collection_projection.FOLDS:
                collected.append(fact)
            if event_type in requested:
                requests.append(fact)
        await rows.flush(conn)
        await collection_projection.apply(conn, collected)
        await request_projection.apply(conn, requests)
        with_buyer = [s.envelope.contract_id for s in events if s.envelope.event_type in _WITH_BUYER]
        if with_buyer:
            # locked against the key's arrival, so one of the two sees the other
            await personal_data.refresh_accounts(conn, with_buyer, lock=True)

    async def rebuild(self, conn: AsyncConnection, store: EventStore, progress=None,
                      recorded_until: datetime | None = None) -> int:
        """Every account's history folded whole, in steps of whole contracts, in worker processes where
        the history is large enough (`shared/rebuild.py`); each row written once, by COPY."""
        await conn.execute(text(f"TRUNCATE {', '.join(self.tables)}"))
        applied = await rebuild_by_copy(conn, "services.invoicing.projection:rows_of_contracts", step=REBUILD_STEP,
                                        until=recorded_until, progress=progress)
        # the collection runs' rows are not one contract's (a run spans accounts): folded after the accounts, in the
        # order recorded, from their own events alone (few: a run's head, its lines in parts, each line's outcome)
        collected = await events_of_types(conn, collection_projection.FOLDS, recorded_until)
        await collection_projection.apply(conn, facts_of(collected, self.registry,
                                                         collection_projection.FOLDS))
        # the requests awaiting a second person the same way, from the requests and what decided them
        requests = await events_of_types(conn, request_projection.folded_types(), recorded_until)
        await request_projection.apply(conn, facts_of(requests,
                                                      self.registry, request_projection.folded_types()))
        # every account's buyer from the keys held now; no lock: the rebuild holds the tables, and a key
        # arriving meanwhile waits for it and then refreshes the rows it finds
        await personal_data.refresh_accounts(conn, None, lock=False)
        return applied


def rows_of_contracts(events: list[RawEvent]) -> list[Written]:
    """The rows of whole contracts' histories (`shared/rebuild.py`'s fold, run in a worker process): folded in
    memory, so each row is complete and written once. Pure CPU."""
    rows = AccountRows()
    for position, event_type, contract_id, body in events:
        fold = _FOLDS.get(event_type)
        if fold is not None:
            # decoded one at a time: what the fold does not keep of an event is freed before the next is read
            fact = stored_fact(position, event_type, contract_id, body)
            fold(rows, fact, fact.payload)
    return projection_sql.written_whole(rows)


projector = InvoicingProjector(
    registry,
    tables=["accounts", "postings", "statement_lines", "debts", "payments", "base_rates", "unidentified_receipts",
            "esf_registrations", *collection_projection.TABLES, *request_projection.TABLES],
    handlers={},
)
