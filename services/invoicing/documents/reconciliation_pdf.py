"""The reconciliation act of mutual settlements (§5.6) as a PDF an operator can send.

fpdf2 with the DejaVu fonts shipped in `reference/fonts/` (Cyrillic and Kazakh letters; the PDF
core fonts have neither). Amounts are written with a space between thousands and two decimals.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from services.invoicing.queries import ReconciliationAct
from shared.money import Money

FONTS = Path(__file__).resolve().parent.parent / "reference" / "fonts"


def amount_text(money: Money) -> str:
    return f"{money.amount:,.2f}".replace(",", " ") + f" {money.currency}"


def new_document(title: str) -> FPDF:
    """An A4 page with the DejaVu fonts (regular and bold) the ledger's documents are written in."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    return pdf


def render(act: ReconciliationAct) -> bytes:
    pdf = new_document(f"Reconciliation act {act.contract_number} {act.month}")
    pdf.set_font("DejaVu", "B", 13)
    pdf.multi_cell(0, 7, "Акт сверки взаиморасчётов / Reconciliation act of mutual settlements",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    for label, value in (("Договор / Contract", act.contract_number), ("Период / Month", act.month),
                         ("Продавец / Seller", act.seller), ("Покупатель / Buyer", act.buyer)):
        pdf.cell(50, 6, label)
        pdf.multi_cell(0, 6, str(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.cell(120, 6, "Сальдо на начало / Opening balance")
    pdf.cell(0, 6, amount_text(act.opening_balance), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 9)
    # an invoice is dated by its turnover (ESF) date, as the buyer books it (§5.5); the day it was issued beside it
    widths = (22, 22, 66, 30, 40)
    for width, title in zip(widths, ("Дата / Date", "Выписан / Issued", "Документ / Document", "Вид / Kind",
                                     "Сумма / Amount"), strict=True):
        pdf.cell(width, 6, title, border=1)
    pdf.ln()
    pdf.set_font("DejaVu", "", 9)
    for row in act.documents:
        cells = (str(row.date), str(row.issued_on or ""), row.document, row.kind, amount_text(row.amount))
        for index, (width, value) in enumerate(zip(widths, cells, strict=True)):
            pdf.cell(width, 6, value, border=1, align="R" if index == len(cells) - 1 else "L")
        pdf.ln()
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 10)
    for label, amount in (("Начислено / Charged", act.charged), ("Оплачено, сторно / Paid or credited",
                                                                 act.paid_or_credited)):
        pdf.cell(120, 6, label)
        pdf.cell(0, 6, amount_text(amount), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(120, 6, "Сальдо на конец / Closing balance")
    pdf.cell(0, 6, amount_text(act.closing_balance), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.ln(4)
    pdf.multi_cell(0, 5, "Положительное сальдо — задолженность покупателя; отрицательное — аванс покупателя. "
                         "A positive balance is the buyer's debt; a negative one is the buyer's advance.",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.cell(95, 6, "Продавец / Seller: ____________________")
    pdf.cell(0, 6, "Покупатель / Buyer: ____________________", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
