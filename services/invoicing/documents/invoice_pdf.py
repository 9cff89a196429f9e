"""A month's invoice (§5.4, or a correcting invoice: the difference from the one it corrects) as the PDF sent to
the buyer: the act it charges, the period, each tariff line, the net amount, VAT and total, the due date and the
day its ESF is due, exactly as `InvoiceIssued` recorded them."""

from __future__ import annotations

from services.invoicing.document_queries import InvoiceDocument
from services.invoicing.documents.charge_lines import charge_lines, charge_totals
from services.invoicing.documents.parties import parties
from shared.pdf import amount_row, fields, heading, new_document, note, signatures


def render(document: InvoiceDocument) -> bytes:
    invoice = document.invoice
    pdf = new_document(f"{invoice.document_number} {document.contract_number}")
    heading(pdf, "Счёт-фактура / Invoice" if invoice.corrects_document is None
            else "Исправленный счёт-фактура / Correcting invoice")
    rows = [("№ / No.", invoice.document_number), ("Дата / Date", invoice.invoice_date.isoformat())]
    if invoice.corrects_document is not None:
        rows.append(("Исправляет / Corrects", invoice.corrects_document))
    fields(pdf, rows)
    parties(pdf, document)
    fields(pdf, (("Акт / Volume act", invoice.act_id), ("Период / Period", invoice.period),
                 ("Дата оборота / Turnover", invoice.esf_date.isoformat()),
                 ("Объём / Volume", f"{invoice.volume_kwh} кВт·ч / kWh")))
    pdf.ln(3)
    charge_lines(pdf, invoice.lines)
    pdf.ln(3)
    charge_totals(pdf, invoice.net, invoice.vat, "Итого / Total", invoice.total, invoice.due_date)
    amount_row(pdf, "ЭСФ не позднее / ESF by", invoice.esf_deadline.isoformat())
    pdf.ln(4)
    note(pdf, "Окончательный расчёт в течение 5 банковских дней с даты счёта (п. 5.4); ЭСФ датируется последним "
              "днём периода. Final settlement within 5 banking days of the invoice (§5.4); the ESF is dated the "
              "period's last day.")
    signatures(pdf, "Продавец / Seller")
    return bytes(pdf.output())
