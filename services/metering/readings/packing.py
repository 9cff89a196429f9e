"""Interval profiles stored as one row per meter, UTC day and grid, instead of one row per interval.

A row of `interval_days` holds the values of intervals that share a meter, a file, a commercial
status and a length (`step_us`) and whose starts lie on one grid inside one UTC day: `values_kwh[n]`
is the energy in [first_start + (n − 1) × step, first_start + n × step), NULL where the file had
nothing. An hourly month of 1,629 meters is 52,000 rows instead of 1.2 million, so the heap, the
index and the insert shrink by ×24; any interval still fits (a 45-minute one is a row of its own).
`interval_readings` (the view of migration 0007) shows them one interval a row again.

The starts of a row lie inside one UTC day, so whoever looks for the intervals starting in
[a, b) reads the rows with `first_start` in (a − 1 day, b) and unnests them.
"""

from __future__ import annotations

# (meter, file, side, commercial, length, UTC day, phase on the grid): one row each
_KEYS = "meter_serial, file_no, side, commercial, step_us, at_us / 86400000000, at_us % step_us"

_MICROSECONDS = """
SELECT source.*, (date_part('epoch', start_at) * 1e6)::bigint AS at_us,
       (date_part('epoch', end_at - start_at) * 1e6)::bigint AS step_us
FROM ({source}) source
"""


def pack_contiguous(source: str, side: str, file_no: str) -> str:
    """`source` packed by meter and UTC day alone; `contiguous` is false for a group that is not one gap-free
    grid of one length, status and contract, or repeats a start (the clean path then hands the file to
    the careful one rather than store it): where it is true, the row is the one `pack_with_gaps` makes.
    `side` and `file_no` are SQL expressions of the file's side and number, the same for every row: they are
    not aggregated row by row.

    Grouped by hashing, not sorting 1.2 million rows: a file lists each meter's intervals in time order,
    which `starts = grid` confirms; a group that came in another order is sorted on its own."""
    return f"""
SELECT meter_serial, contract_id, {side} AS side, commercial, step_us, to_timestamp(first_us / 1e6) AS first_start,
       CASE WHEN starts = grid THEN values_kwh
            ELSE (SELECT array_agg(u.value ORDER BY u.at_us) FROM unnest(values_kwh, starts) u(value, at_us)) END
           AS values_kwh,
       {file_no} AS file_no,
       grid IS NOT NULL AND (starts = grid OR (SELECT array_agg(a ORDER BY a) FROM unnest(starts) a) = grid)
           AS contiguous
FROM (SELECT meter_serial, min(contract_id) AS contract_id, bool_and(commercial) AS commercial,
             min(step_us) AS step_us, min(at_us) AS first_us, array_agg(value_kwh) AS values_kwh,
             array_agg(at_us) AS starts,
             CASE WHEN min(step_us) = max(step_us) AND bool_and(commercial) = bool_or(commercial)
                       AND min(contract_id) = max(contract_id)
                       AND (max(at_us) - min(at_us)) / min(step_us) + 1 = count(*)
                  THEN ARRAY(SELECT generate_series(min(at_us), max(at_us), min(step_us))) END AS grid
      FROM ({_MICROSECONDS.format(source=source)}) timed
      GROUP BY meter_serial, at_us / 86400000000) grouped
"""


def pack_with_gaps(source: str) -> str:
    """`source` (distinct starts per meter) packed with NULL for each missing interval of a grid."""
    return f"""
SELECT meter_serial, contract_id, side, commercial, step_us, to_timestamp(first_us / 1e6) AS first_start,
       (SELECT array_agg(u.value ORDER BY g.slot)
        FROM generate_series(0, (last_us - first_us) / step_us) g(slot)
        LEFT JOIN unnest(values_kwh, starts) u(value, at_us) ON (u.at_us - first_us) / step_us = g.slot) AS values_kwh,
       file_no
FROM (SELECT meter_serial, min(contract_id) AS contract_id, side, commercial, step_us, min(at_us) AS first_us,
             max(at_us) AS last_us, array_agg(value_kwh) AS values_kwh, array_agg(at_us) AS starts, file_no
      FROM ({_MICROSECONDS.format(source=source)}) timed
      GROUP BY {_KEYS}) grouped
"""


INSERT_PACKED = """
INSERT INTO interval_days (meter_serial, contract_id, side, commercial, step_us, first_start, values_kwh, file_no)
SELECT meter_serial, contract_id, side, commercial, step_us, first_start, values_kwh, file_no FROM {packed} packed
"""

# readers of the same meters wait for a file being imported: two files cannot both store one interval
LOCK = "LOCK TABLE interval_days IN SHARE ROW EXCLUSIVE MODE"

# per meter, then over the meters: each aggregate stays small however long the file. A register reading
# is one line `register|time|value`; a packed interval row `interval|first start|step µs|values`.
ROWS_DIGEST = """
SELECT encode(sha256(convert_to(coalesce(string_agg(meter_serial || ':' || meter_digest, E'\\n'
       ORDER BY meter_serial), ''), 'UTF8')), 'hex')
FROM (SELECT meter_serial, encode(sha256(convert_to(string_agg(line, E'\\n' ORDER BY line), 'UTF8')), 'hex')
             AS meter_digest
      FROM ({lines}) lines GROUP BY meter_serial) per_meter
"""


def digest_lines(*, registers: str | None, packed: str) -> str:
    """The lines `ROWS_DIGEST` hashes, from the register rows and the packed interval rows stored."""
    intervals = (f"SELECT meter_serial, 'interval|' || first_start::text || '|' || step_us::text || '|'"
                 f" || commercial::text || '|' || values_kwh::text AS line FROM {packed} packed")
    if registers is None:
        return intervals
    return (f"SELECT meter_serial, 'register|' || start_at::text || '|' || value_kwh::text AS line"
            f" FROM {registers} registers UNION ALL {intervals}")


def stored_intervals(meters_and_bounds: str) -> str:
    """Stored intervals, one a row, of the meters in `meters_and_bounds` (meter_serial, first_at, last_at)
    starting in [first_at, last_at]."""
    return f"""
SELECT r.meter_serial, r.start_at, r.value_kwh
FROM ({meters_and_bounds}) b
JOIN interval_days d ON d.meter_serial = b.meter_serial
     AND d.first_start > b.first_at - interval '1 day' AND d.first_start <= b.last_at
CROSS JOIN LATERAL (
    SELECT d.meter_serial, d.first_start + (u.n - 1) * d.step_us * interval '1 microsecond' AS start_at, u.value_kwh
    FROM unnest(d.values_kwh) WITH ORDINALITY u(value_kwh, n) WHERE u.value_kwh IS NOT NULL
) r
WHERE r.start_at BETWEEN b.first_at AND b.last_at
"""
