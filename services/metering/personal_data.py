"""Metering's part of a counterparty's personal-data export (law 94-V access and portability): its
meters and delivery points, a summary of the readings, the month's volumes and the volume acts.

Consumption volumes are personal data here; the readings themselves (millions of rows) are summarised
per meter, and the daily volumes per month, so the part stays a message, not a data dump. The request is
answered by `handlers.FROM_CLAIMS` (`shared.personal_data.export_handlers`).
"""

from __future__ import annotations

QUERIES = {
    "contract_terms": "SELECT * FROM contract_terms WHERE contract_id = ANY(:ids) ORDER BY contract_id",
    "meters": "SELECT * FROM meters WHERE contract_id = ANY(:ids) ORDER BY contract_id, serial",
    "meter_ratios": "SELECT * FROM meter_ratios WHERE contract_id = ANY(:ids) ORDER BY contract_id, serial,"
                    " effective_from",
    "readings_summary": "SELECT contract_id, meter_serial, kind, side, count(*) AS readings,"
                        " min(start_at) AS first_at, max(start_at) AS last_at,"
                        " sum(value_kwh) FILTER (WHERE kind = 'interval') AS interval_kwh"
                        " FROM readings WHERE contract_id = ANY(:ids)"
                        " GROUP BY contract_id, meter_serial, kind, side ORDER BY contract_id, meter_serial, kind, side",
    "monthly_volumes": "SELECT contract_id, to_char(day, 'YYYY-MM') AS month, count(*) AS days,"
                       " sum(volume_kwh) AS volume_kwh, bool_and(complete) AS complete"
                       " FROM daily_volumes WHERE contract_id = ANY(:ids) GROUP BY contract_id, month"
                       " ORDER BY contract_id, month",
    "actual_balances": "SELECT * FROM actual_balances WHERE contract_id = ANY(:ids) ORDER BY contract_id, period",
    "preliminary_acts": "SELECT * FROM preliminary_acts WHERE contract_id = ANY(:ids)"
                        " ORDER BY contract_id, period, received_on",
    "volume_acts": "SELECT * FROM volume_acts WHERE contract_id = ANY(:ids) ORDER BY contract_id, period, issued_on,"
                   " act_id",
}
