"""Energy of a period (a day, an hour) from a contract's meters, with the meter and multiplier in force.

A period is cut into pieces wherever a meter was replaced or its transformer ratio changed: each piece
is one meter under one multiplier. A piece's energy is
- Δregister × multiplier when its register is known at both ends (a reading, or the final/initial
  reading recorded with a replacement, or the reading at a ratio change), or
- the sum of its commercial intervals × multiplier, complete only when they cover the whole piece.
Raw meter values (side "secondary") are multiplied; values already on the primary side are not.
A piece without data has no energy (`None`) and makes the period incomplete: never a silent zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from services.metering.events import MeterDay

SECONDARY = "secondary"


@dataclass(frozen=True)
class Register:
    value_kwh: Decimal
    side: str


@dataclass(frozen=True)
class Piece:
    serial: str
    multiplier: int
    seconds: int                      # how long the piece lasts
    register_start: Register | None
    register_end: Register | None
    interval_kwh: Decimal | None      # sum of the commercial intervals starting inside the piece
    interval_seconds: int             # how much of the piece those intervals cover
    interval_side: str | None


@dataclass(frozen=True)
class PieceEnergy:
    serial: str
    volume_kwh: Decimal | None
    source: str
    complete: bool


def _scale(piece: Piece, side: str | None) -> int:
    return piece.multiplier if side == SECONDARY else 1


def piece_energy(piece: Piece) -> PieceEnergy:
    start, end = piece.register_start, piece.register_end
    if start is not None and end is not None and start.side == end.side:
        # §4.11 Δregister × multiplier, e.g. (1000.7045 − 1000.0000) × 44,000 = 30,998 kWh
        return PieceEnergy(piece.serial, (end.value_kwh - start.value_kwh) * _scale(piece, start.side), "register",
                           True)
    if piece.interval_kwh is not None and piece.interval_seconds:
        return PieceEnergy(piece.serial, piece.interval_kwh * _scale(piece, piece.interval_side), "interval",
                           piece.interval_seconds >= piece.seconds)
    return PieceEnergy(piece.serial, None, "none", False)


def meter_shares(pieces: Iterable[Piece]) -> list[MeterDay]:
    """One share per meter (a meter whose ratio changed inside the period has two pieces, summed)."""
    by_serial: dict[str, list[PieceEnergy]] = {}
    for piece in pieces:
        by_serial.setdefault(piece.serial, []).append(piece_energy(piece))
    shares = []
    for serial, energies in by_serial.items():
        known = [e.volume_kwh for e in energies if e.volume_kwh is not None]
        sources = sorted({e.source for e in energies if e.source != "none"})
        shares.append(MeterDay(serial=serial, volume_kwh=sum(known, Decimal(0)) if known else None,
                               source="+".join(sources) or "none",
                               complete=all(e.complete for e in energies)))
    return shares


def period_total(shares: Iterable[MeterDay]) -> tuple[Decimal, bool]:
    """The contract's energy in the period and whether every meter's share is complete."""
    shares = list(shares)
    return (sum((s.volume_kwh for s in shares if s.volume_kwh is not None), Decimal(0)),
            bool(shares) and all(s.complete for s in shares))
