"""The reconciliation act of mutual settlements (§5.6) as a PDF an operator can send, in the layout of the
ledger's documents (`shared/pdf.py`)."""

from __future__ import annotations

from services.invoicing.queries import ReconciliationAct
from shared.pdf import amount_row, amount_text, fields, heading, new_document, note, signatures, table


def render(act: ReconciliationAct) -> bytes:
    pdf = new_document(f"Reconciliation act {act.contract_number} {act.month}")
    heading(pdf, "Акт сверки взаиморасчётов / Reconciliation act of mutual settlements")
    fields(pdf, (("Договор / Contract", act.contract_number), ("Период / Month", act.month),
                 ("Продавец / Seller", act.seller), ("Покупатель / Buyer", act.buyer)))
    pdf.ln(3)
    amount_row(pdf, "Сальдо на начало / Opening balance", amount_text(act.opening_balance))
    pdf.ln(2)
    # an invoice is dated by its turnover (ESF) date, as the buyer books it (§5.5); the day it was issued beside it
    table(pdf, (22, 22, 66, 30, 40),
          ("Дата / Date", "Выписан / Issued", "Документ / Document", "Вид / Kind", "Сумма / Amount"),
          [(str(row.date), str(row.issued_on or ""), row.document, row.kind, amount_text(row.amount))
           for row in act.documents], right_from=4)
    pdf.ln(3)
    amount_row(pdf, "Начислено / Charged", amount_text(act.charged))
    amount_row(pdf, "Оплачено, сторно / Paid or credited", amount_text(act.paid_or_credited))
    amount_row(pdf, "Сальдо на конец / Closing balance", amount_text(act.closing_balance), bold=True)
    pdf.ln(4)
    note(pdf, "Положительное сальдо — задолженность покупателя; отрицательное — аванс покупателя. "
              "A positive balance is the buyer's debt; a negative one is the buyer's advance.")
    signatures(pdf, "Продавец / Seller", "Покупатель / Buyer")
    return bytes(pdf.output())
