"""A charge's lines as billing's documents tabulate them: each tariff component's days, kWh, rate, net amount,
VAT rate and VAT, exactly as the event that issued the document carries them."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

from services.invoicing.events import ChargeLineData
from shared.pdf import amount_text, table


def charge_lines(pdf: FPDF, lines: Sequence[ChargeLineData]) -> None:
    table(pdf, (28, 34, 22, 24, 34, 14, 34),
          ("Услуга / Item", "Дни / Days", "кВт·ч / kWh", "Тариф / Rate", "Без НДС / Net", "НДС %", "НДС / VAT"),
          [(line.component, f"{line.first_day:%d.%m}–{line.last_day:%d.%m.%Y}", f"{line.volume_kwh:,}".replace(",", " "),
            f"{line.rate_per_kwh}", amount_text(line.net), f"{line.vat_rate_percent.normalize()}",
            amount_text(line.vat)) for line in lines], right_from=2)
