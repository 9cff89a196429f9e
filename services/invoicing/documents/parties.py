"""The seller's and the buyer's requisites as billing's documents print them, a shredded buyer as deleted."""

from __future__ import annotations

from fpdf import FPDF

from services.invoicing.document_queries import DocumentHead, Party
from shared.pdf import fields

DELETED = "персональные данные удалены / personal data deleted"


def _requisites(party: Party) -> str:
    if party.shredded:
        return DELETED
    details = [f"{label} {value}" for label, value in (("БИН/BIN", party.bin), ("IBAN", party.iban),
                                                        ("БИК/BIC", party.bic)) if value]
    return "\n".join(part for part in (party.name, ", ".join(details), party.address or "") if part)


def parties(pdf: FPDF, head: DocumentHead) -> None:
    """The contract, then the seller and the buyer, each with its name, identifiers, bank account and address."""
    fields(pdf, (("Договор / Contract", head.contract_number), ("Продавец / Seller", _requisites(head.seller)),
                 ("Покупатель / Buyer", _requisites(head.buyer))))
