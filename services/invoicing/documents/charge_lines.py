"""A charge as billing's documents print it: each tariff component's days, kWh, rate, net amount, VAT rate and
VAT, exactly as the event that issued the document carries them, then the totals and the day they are due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from fpdf import FPDF

from services.invoicing.events import ChargeLineData
from shared.money import Money
from shared.pdf import amount_row, amount_text, table


def charge_lines(pdf: FPDF, lines: Sequence[ChargeLineData]) -> None:
    table(pdf, (28, 34, 22, 24, 34, 14, 34),
          ("Услуга / Item", "Дни / Days", "кВт·ч / kWh", "Тариф / Rate", "Без НДС / Net", "НДС %", "НДС / VAT"),
          [(line.component, f"{line.first_day:%d.%m}–{line.last_day:%d.%m.%Y}", f"{line.volume_kwh:,}".replace(",", " "),
            f"{line.rate_per_kwh}", amount_text(line.net), f"{line.vat_rate_percent.normalize()}",
            amount_text(line.vat)) for line in lines], right_from=2)


def charge_totals(pdf: FPDF, net: Money, vat: Money, total_label: str, total: Money, due_date: date) -> None:
    amount_row(pdf, "Без НДС / Net", amount_text(net))
    amount_row(pdf, "НДС / VAT", amount_text(vat))
    amount_row(pdf, total_label, amount_text(total), bold=True)
    amount_row(pdf, "Оплатить до / Pay by", due_date.isoformat(), bold=True)
