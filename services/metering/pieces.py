"""Reads, set-based, what the meters recorded in each of a list of periods (days or hours): one row per
meter piece — a meter under one multiplier inside one period — with the register at both ends and the
sum of its intervals. `domain.volumes` does the arithmetic.

Period bounds come from Python (`zoneinfo` with the pinned `tzdata`), so the day a zone changed its
offset (Astana, 2024-03-01) is cut where the law says, whatever time-zone data the server carries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metering.domain.volumes import Piece, Register

_PIECES = """
WITH periods AS (
    SELECT p.period_start, p.period_end, p.n::int AS n
    FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) WITH ORDINALITY
        AS p(period_start, period_end, n)
), spans AS (
    -- a meter counts for a contract only inside the contract's readings window: one meter serving
    -- successive contracts gives each its own days
    SELECT m.contract_id, m.serial, r.multiplier,
           greatest(m.installed_at, r.effective_from, coalesce(t.readings_from, '-infinity')) AS span_start,
           least(coalesce(m.removed_at, 'infinity'),
                 coalesce(lead(r.effective_from) OVER (PARTITION BY r.contract_id, r.serial
                                                       ORDER BY r.effective_from), 'infinity'),
                 coalesce(t.readings_until, 'infinity')) AS span_end
    FROM meters m JOIN meter_ratios r USING (contract_id, serial)
    LEFT JOIN contract_terms t ON t.contract_id = m.contract_id
    WHERE m.contract_id = ANY(CAST(:contracts AS text[]))
), pieces AS (
    SELECT p.n, s.contract_id, s.serial, s.multiplier,
           greatest(p.period_start, s.span_start) AS piece_start, least(p.period_end, s.span_end) AS piece_end
    FROM periods p JOIN spans s ON s.span_start < s.span_end AND s.span_start < p.period_end
        AND s.span_end > p.period_start
)
SELECT pc.n, pc.contract_id, pc.serial, pc.multiplier,
       extract(epoch FROM pc.piece_end - pc.piece_start)::int AS seconds,
       coalesce(ks.register_kwh, rs.value_kwh) AS register_start,
       CASE WHEN ks.at IS NOT NULL THEN 'secondary' ELSE rs.side END AS register_start_side,
       coalesce(ke.register_kwh, re.value_kwh) AS register_end,
       CASE WHEN ke.at IS NOT NULL THEN 'secondary' ELSE re.side END AS register_end_side,
       iv.total AS interval_kwh, coalesce(iv.covered, 0) AS interval_seconds, iv.side AS interval_side
FROM pieces pc
-- a register recorded with a replacement or ratio change wins over an imported reading of that moment
LEFT JOIN register_marks ks ON ks.contract_id = pc.contract_id AND ks.serial = pc.serial AND ks.at = pc.piece_start
LEFT JOIN register_marks ke ON ke.contract_id = pc.contract_id AND ke.serial = pc.serial AND ke.at = pc.piece_end
LEFT JOIN readings rs ON rs.meter_serial = pc.serial AND rs.kind = 'register' AND rs.start_at = pc.piece_start
     AND rs.commercial
LEFT JOIN readings re ON re.meter_serial = pc.serial AND re.kind = 'register' AND re.start_at = pc.piece_end
     AND re.commercial
-- packed interval rows start within one UTC day (`readings.packing`): a day's look-back finds them all
LEFT JOIN LATERAL (
    SELECT sum(u.value_kwh) AS total, (sum(d.step_us) / 1e6)::int AS covered, min(d.side) AS side
    FROM interval_days d
    CROSS JOIN LATERAL unnest(d.values_kwh) WITH ORDINALITY u(value_kwh, n)
    WHERE d.meter_serial = pc.serial AND d.commercial
      AND d.first_start > pc.piece_start - interval '1 day' AND d.first_start < pc.piece_end
      AND u.value_kwh IS NOT NULL
      AND d.first_start + (u.n - 1) * d.step_us * interval '1 microsecond' >= pc.piece_start
      AND d.first_start + (u.n - 1) * d.step_us * interval '1 microsecond' < pc.piece_end
) iv ON true
ORDER BY pc.contract_id, pc.n, pc.piece_start, pc.serial
"""


def _register(value, side) -> Register | None:
    return Register(value, side) if value is not None else None


async def read_pieces(conn: AsyncConnection, contract_ids: Sequence[str],
                      periods: Sequence[tuple[datetime, datetime]]) -> dict[tuple[str, int], list[Piece]]:
    """(contract id, index of the period in `periods`) → its pieces; a period no meter covers is absent."""
    rows = (await conn.execute(text(_PIECES), {
        "contracts": list(contract_ids), "starts": [p[0] for p in periods], "ends": [p[1] for p in periods],
    })).all()
    found: dict[tuple[str, int], list[Piece]] = defaultdict(list)
    for row in rows:
        found[(row.contract_id, row.n - 1)].append(Piece(
            serial=row.serial, multiplier=row.multiplier, seconds=row.seconds,
            register_start=_register(row.register_start, row.register_start_side),
            register_end=_register(row.register_end, row.register_end_side),
            interval_kwh=row.interval_kwh, interval_seconds=row.interval_seconds, interval_side=row.interval_side))
    return found
