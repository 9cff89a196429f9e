"""Bank statement import: each receipt is its own transaction (all-or-nothing per line), re-importing
a file posts nothing new (bank references), and every line gets an outcome in the report."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from services.invoicing.bank.statement import Candidate, ParsedStatement, Receipt, match_contract
from services.invoicing.domain import account as acc
from services.invoicing.ledger import decide_and_record, execute
from shared.errors import Conflict, DomainError, NotFound
from shared.events.invoicing import ReceiptAssigned, UnidentifiedReceiptRecorded
from shared.eventstore import CommandContext
from shared.money import Money

UNIDENTIFIED = "unidentified"


async def candidates(service) -> list[Candidate]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT contract_id, contract_number, terms->'buyer'->>'bin' AS bin, terms->'buyer'->>'iban' AS iban"
            " FROM accounts"))).all()
    return [Candidate(r.contract_id, r.contract_number, r.bin, r.iban) for r in rows]


async def known_reference(service, reference: str) -> bool:
    async with service.engine.connect() as conn:
        return bool(await conn.scalar(text(
            "SELECT EXISTS (SELECT 1 FROM payments WHERE bank_reference = :r)"
            " OR EXISTS (SELECT 1 FROM unidentified_receipts WHERE bank_reference = :r)"), {"r": reference}))


def _at(receipt: Receipt) -> datetime:
    return datetime.combine(receipt.received_on, time(0), ZoneInfo("Asia/Almaty"))


async def post_receipt(service, receipt: Receipt, contract_id: str, context: CommandContext) -> None:
    amount = Money(receipt.amount, receipt.currency)
    await execute(service, contract_id, lambda state: acc.receive_payment(
        state, payment_id=str(uuid.uuid4()), bank_reference=receipt.bank_reference, amount=amount,
        received_on=receipt.received_on, payer_bin=receipt.payer_bin, payer_iban=receipt.payer_iban,
        purpose=receipt.purpose), context, _at(receipt))


async def record_unidentified(service, receipt: Receipt, why: str, context: CommandContext) -> None:
    event = UnidentifiedReceiptRecorded(
        contract_id=UNIDENTIFIED, bank_reference=receipt.bank_reference,
        amount=Money(receipt.amount, receipt.currency), received_on=receipt.received_on,
        payer_name=receipt.payer_name, payer_bin=receipt.payer_bin, payer_iban=receipt.payer_iban,
        purpose=receipt.purpose, why=why)
    async with service.unit_of_work() as uow:
        await service.record(uow, stream_id=UNIDENTIFIED, expected_version=None, contract_id=UNIDENTIFIED,
                             occurred_at=_at(receipt), events=[event], context=context)
        await uow.commit()


async def import_statement(service, parsed: ParsedStatement, context: CommandContext) -> dict[str, Any]:
    lines: list[dict[str, Any]] = [
        {"line": p.line, "outcome": "rejected", "reason": p.reason, "message": p.message} for p in parsed.problems]
    known = await candidates(service)
    for receipt in parsed.receipts:
        row: dict[str, Any] = {"line": receipt.line, "bank_reference": receipt.bank_reference,
                               "amount": str(receipt.amount)}
        if await known_reference(service, receipt.bank_reference):
            lines.append({**row, "outcome": "already_posted"})
            continue
        contract_id, how = match_contract(receipt, known)
        try:
            if contract_id is None:
                await record_unidentified(service, receipt, how, context)
                lines.append({**row, "outcome": "unidentified", "reason": how})
            else:
                await post_receipt(service, receipt, contract_id, context)
                lines.append({**row, "outcome": "posted", "contract_id": contract_id, "matched_by": how})
        except DomainError as exc:  # this line only: the others go on
            lines.append({**row, "outcome": "rejected", "reason": exc.reason, "message": exc.message})
    lines.sort(key=lambda line: line["line"])
    totals: dict[str, int] = {}
    for line in lines:
        totals[line["outcome"]] = totals.get(line["outcome"], 0) + 1
    return {"format": parsed.format, "encoding": parsed.encoding, "account": parsed.account,
            "skipped_outgoing": parsed.skipped_outgoing, "totals": totals, "lines": lines}


async def assign_receipt(service, bank_reference: str, contract_id: str, context: CommandContext) -> None:
    """Post an unidentified receipt to a contract: both records in one transaction."""
    async with service.unit_of_work() as uow:
        row = (await uow.conn.execute(text("SELECT * FROM unidentified_receipts WHERE bank_reference = :r"),
                                      {"r": bank_reference})).mappings().first()
        if row is None:
            raise NotFound(f"no unidentified receipt {bank_reference}", reason="receipt_not_found")
        if row["assigned_to"]:
            raise Conflict(f"receipt {bank_reference} is already assigned", reason="receipt_already_assigned")
        receipt = Receipt(0, bank_reference, row["received_on"], row["amount"], row["currency"], row["payer_name"],
                          row["payer_bin"], row["payer_iban"], row["purpose"])
        await service.record(uow, stream_id=UNIDENTIFIED, expected_version=None, contract_id=UNIDENTIFIED,
                             occurred_at=_at(receipt), context=context,
                             events=[ReceiptAssigned(contract_id=UNIDENTIFIED, bank_reference=bank_reference,
                                                     assigned_contract_id=contract_id)])
        await decide_and_record(service, uow, contract_id, lambda state: acc.receive_payment(
            state, payment_id=str(uuid.uuid4()), bank_reference=bank_reference,
            amount=Money(receipt.amount, receipt.currency), received_on=receipt.received_on,
            payer_bin=receipt.payer_bin, payer_iban=receipt.payer_iban, purpose=receipt.purpose),
            context, _at(receipt))
        await uow.commit()
