"""A restriction, termination or withdrawal notice (§5.3, §7.1.1, §11.2) as the letter sent to the buyer: its
number and date, the contract, the amount it cites, the day it takes effect, the documents it is about and the
two people of collections who decided it. Russian and English side by side, in the layout of the ledger's
documents (`shared/pdf.py`)."""

from __future__ import annotations

from services.invoicing.collection_queries import NoticeLetter
from shared.pdf import amount_text, fields, heading, new_document, note, signatures

TITLES = {
    "restriction": "Уведомление об ограничении поставки / Notice of restriction of supply",
    "termination": "Уведомление о расторжении договора / Notice of termination of the contract",
    "withdrawal": "Уведомление об отказе от договора / Notice of withdrawal from the contract",
}


def _body(letter: NoticeLetter) -> str:
    amount, day = amount_text(letter.amount), letter.effective_on.isoformat()
    if letter.kind == "restriction":
        return (f"Предоплата по п. 5.3 договора не внесена: не покрыто {amount}. На основании п. 7.1.1 поставка "
                f"может быть ограничена, вплоть до полного прекращения, с {day}, если сумма не будет оплачена.\n"
                f"The prepayment due under §5.3 is not covered: {amount} is missing. Under §7.1.1 supply may be "
                f"restricted, down to a full stop, from {day} unless it is paid.")
    cited = ", ".join(letter.documents)
    if letter.kind == "termination":
        return (f"Окончательный расчёт по п. 5.4 не произведён в течение 30 дней после срока: {cited}, "
                f"задолженность {amount}. На основании п. 7.1.1 договор расторгается с {day}.\n"
                f"Final settlement under §5.4 is unpaid 30 days after its due date: {cited}, {amount} overdue. "
                f"Under §7.1.1 the contract ends on {day}.")
    return (f"Обязательства по оплате нарушены более одного раза: {cited}; задолженность {amount}. На основании "
            f"п. 11.2 продавец отказывается от договора с {day}.\n"
            f"The payment duties were breached more than once: {cited}; {amount} is overdue. Under §11.2 the seller "
            f"withdraws from the contract from {day}.")


def render(letter: NoticeLetter) -> bytes:
    pdf = new_document(f"{letter.document_number} {letter.contract_number}")
    heading(pdf, TITLES[letter.kind])
    fields(pdf, (("№ / No.", letter.document_number), ("Дата / Date", letter.issued_on.isoformat()),
                 ("Договор / Contract", letter.contract_number), ("Продавец / Seller", letter.seller),
                 ("Покупатель / Buyer", letter.buyer)))
    pdf.ln(4)
    pdf.multi_cell(0, 6, _body(letter), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    if letter.requested_by and letter.approved_by:
        note(pdf, f"Подготовил / Prepared by: {letter.requested_by}; утвердил / approved by: {letter.approved_by}")
    signatures(pdf, "Продавец / Seller")
    return bytes(pdf.output())
