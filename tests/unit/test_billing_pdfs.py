"""Proves billing's PDFs (`services/invoicing/documents/`) print what they are given and nothing else: a shredded
buyer shows as deleted (no requisite of it survives) while the seller keeps its requisites, a re-issued prepayment
demand says what it asked before, and Kazakh letters come out of the shared fonts (`shared/pdf.py`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

from pypdf import PdfReader

from services.invoicing.document_queries import Party, PrepaymentInvoice
from services.invoicing.documents.prepayment_pdf import render
from services.invoicing.events import ChargeLineData
from shared.events.sealing import SHREDDED
from shared.money import Money


def kzt(text: str) -> Money:
    return Money(text, "KZT")


def demand(buyer: Party, **changes) -> PrepaymentInvoice:
    # one line: 1,000 kWh × 11.97 = 11,970.00, VAT 12% 1,436.40, the demand 13,406.40
    line = ChargeLineData(component="cap_tariff", first_day=date(2022, 1, 1), last_day=date(2022, 1, 10),
                          volume_kwh=Decimal("1000"), rate_per_kwh=Decimal("11.97"), net=kzt("11970.00"),
                          vat_rate_percent=Decimal("12"), vat=kzt("1436.40"))
    fields = dict(contract_id="c-1", contract_number="01/2021-85",
                  seller=Party(name="ТОО «Қазақ энергия»", bin="090840008604", iban="KZ508562203110368585"),
                  buyer=buyer, document_number="PRE-01/2021-85-1", issued_on=date(2021, 12, 20),
                  first_day=date(2022, 1, 1), last_day=date(2022, 1, 10), days=10, volume_kwh=Decimal("1000"),
                  lines=[line], net=kzt("11970.00"), vat=kzt("1436.40"), amount=kzt("13406.40"),
                  due_date=date(2021, 12, 29), adjusted_on=None, previous_amount=None)
    return PrepaymentInvoice(**{**fields, **changes})


def text_of(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


def test_a_shredded_buyer_shows_as_deleted_and_the_seller_keeps_its_requisites() -> None:
    text = text_of(render(demand(Party(name=SHREDDED, iban=SHREDDED))))
    assert "personal data deleted" in text and SHREDDED not in text
    assert "ТОО «Қазақ энергия»" in text and "090840008604" in text   # ә, қ, ғ: the fonts have Kazakh letters
    assert "13 406.40 KZT" in text and "1 436.40 KZT" in text and "2021-12-29" in text


def test_a_reissued_demand_says_what_it_asked_before() -> None:
    text = text_of(render(demand(Party(name="ТОО «Т-Транзит»", bin="110740003844"), adjusted_on=date(2021, 12, 27),
                                 previous_amount=kzt("15176.00"))))
    assert "ТОО «Т-Транзит»" in text and "110740003844" in text and "deleted" not in text
    assert "Re-issued on 2021-12-27" in text and "15 176.00 KZT" in text
