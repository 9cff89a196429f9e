"""The prepayment invoice of a §5.3 block as the PDF sent to the buyer: 100% of the block's planned volume,
priced by the contract's tariff with VAT, due 3 banking days before the block starts; the figures as the demand
(or its last re-issue) recorded them."""

from __future__ import annotations

from services.invoicing.document_queries import PrepaymentInvoice
from services.invoicing.documents.charge_lines import charge_lines, charge_totals
from services.invoicing.documents.parties import parties
from shared.pdf import amount_text, fields, heading, new_document, note, signatures


def render(demand: PrepaymentInvoice) -> bytes:
    pdf = new_document(f"{demand.document_number} {demand.contract_number}")
    heading(pdf, "Счёт на предоплату / Prepayment invoice")
    fields(pdf, (("№ / No.", demand.document_number), ("Дата / Date", demand.issued_on.isoformat())))
    parties(pdf, demand)
    fields(pdf, (("Период поставки / Supply", f"{demand.first_day.isoformat()} – {demand.last_day.isoformat()}"
                                              f" ({demand.days} дн. / days)"),
                 ("Объём / Volume", f"{demand.volume_kwh} кВт·ч / kWh")))
    pdf.ln(3)
    charge_lines(pdf, demand.lines)
    pdf.ln(3)
    charge_totals(pdf, demand.net, demand.vat, "К оплате / Amount due", demand.amount, demand.due_date)
    pdf.ln(4)
    if demand.adjusted_on is not None and demand.previous_amount is not None:
        note(pdf, f"Перевыставлен {demand.adjusted_on.isoformat()} на разницу; ранее {amount_text(demand.previous_amount)}. "
                  f"Re-issued on {demand.adjusted_on.isoformat()} by the difference; it asked for "
                  f"{amount_text(demand.previous_amount)} before.")
    note(pdf, "Предоплата 100% стоимости объёма, планируемого на период, не позднее 3 банковских дней до его "
              "начала (п. 5.3 договора). 100% of the cost of the volume planned for the period, paid no later than "
              "3 banking days before it starts (§5.3 of the contract).")
    signatures(pdf, "Продавец / Seller")
    return bytes(pdf.output())
