"""The layout every document the services write as a PDF shares: an A4 page in the DejaVu fonts shipped in
`shared/fonts/` (Cyrillic and Kazakh letters; the PDF core fonts have neither), a bilingual title, label and
value rows, a bordered table, the signature lines; amounts written with a space between thousands and two
decimals. fpdf2 does the drawing; the documents themselves (what they say) stay in their services."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF

from shared.money import Money

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"


def amount_text(money: Money) -> str:
    """`1234567.8 KZT` as `1 234 567.80 KZT`."""
    return f"{money.amount:,.2f}".replace(",", " ") + f" {money.currency}"


def new_document(title: str) -> FPDF:
    """An A4 page with the DejaVu fonts (regular and bold) the ledger's documents are written in."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    return pdf


def heading(pdf: FPDF, title: str) -> None:
    """The document's title in bold, then the body's font."""
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)


def fields(pdf: FPDF, rows: Sequence[tuple[str, str]], label_width: float = 50) -> None:
    """Label and value on a line each (a long value wraps under itself)."""
    for label, value in rows:
        pdf.cell(label_width, 6, label)
        pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")


def amount_row(pdf: FPDF, label: str, value: str, bold: bool = False) -> None:
    """A label and an amount aligned right, as a total is written."""
    pdf.set_font(FONT, "B" if bold else "", 10)
    pdf.cell(120, 6, label)
    pdf.cell(0, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)


def table(pdf: FPDF, widths: Sequence[float], titles: Sequence[str], rows: Sequence[Sequence[str]],
          right_from: int | None = None) -> None:
    """A bordered table in 9 points: bold titles, then the rows; columns from `right_from` on (figures) aligned
    right."""
    pdf.set_font(FONT, "B", 9)
    for width, title in zip(widths, titles, strict=True):
        pdf.cell(width, 6, title, border=1)
    pdf.ln()
    pdf.set_font(FONT, "", 9)
    for row in rows:
        for index, (width, value) in enumerate(zip(widths, row, strict=True)):
            right = right_from is not None and index >= right_from
            pdf.cell(width, 6, value, border=1, align="R" if right else "L")
        pdf.ln()
    pdf.set_font(FONT, "", 10)


def note(pdf: FPDF, text: str) -> None:
    """A paragraph in 9 points (an explanation under the figures)."""
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)


def signatures(pdf: FPDF, *parties: str) -> None:
    """A signature line for each party, side by side (one: alone on the line)."""
    pdf.ln(10)
    pdf.set_font(FONT, "", 10)
    width = 0 if len(parties) == 1 else 190 / len(parties)
    for index, party in enumerate(parties):
        last = index == len(parties) - 1
        pdf.cell(0 if last else width, 6, f"{party}: ____________________",
                 new_x="LMARGIN" if last else "RIGHT", new_y="NEXT" if last else "TOP")
