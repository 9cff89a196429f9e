"""An hour of the dispatch grid as a person reads it: its value, its mark's letter, and a title saying what
the hour was before the event that marked it and why. Made once per distinct value and mark (a day's grid
repeats them: 24 hours × a page of contracts), not formatted again in the template for every cell."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal

from services.backoffice import formats
from services.backoffice.i18n import gettext as code_word  # its codes are listed in web.dispatch.SHOWN_CODES
from services.backoffice.i18n import reason_text
from services.backoffice.web.day_marks import HourMark

DISTINCT_CELLS = 16_384   # values × marks kept formatted


@dataclass(frozen=True)
class HourCell:
    text: str     # the kWh as shown, or — for an hour with no value
    kind: str     # day_marks.KINDS: the cell's colour class
    letter: str   # the mark's letter (none for an accepted hour)
    title: str    # the mark in words: what the hour was before and why


def _kwh(value: Decimal | None) -> str:
    return "—" if value is None else formats.number(value, 3)


@functools.lru_cache(maxsize=DISTINCT_CELLS)
def hour_cell(value: Decimal | None, mark: HourMark) -> HourCell:
    title = code_word(f"hour:{mark.kind}")
    if mark.before is not None:
        title += f": {_kwh(mark.before)} → {_kwh(value)}"
    if mark.reason:
        title += " (" + " ".join(reason_text(code, code) for code in mark.reason.split()) + ")"
    return HourCell(_kwh(value), mark.kind, "" if mark.kind == "accepted" else code_word(f"letter:{mark.kind}"), title)
