"""Contracts' part of a counterparty's personal-data export (law 94-V access and portability): the
contracts with their terms and parties, amendments, daily applications and supply conditions."""

from __future__ import annotations

from shared.events.contracts import PersonalDataExported
from shared.personal_data import export_handlers

QUERIES = {
    "contracts": "SELECT * FROM contracts WHERE contract_id = ANY(:ids) ORDER BY number",
    "amendments": "SELECT * FROM amendments WHERE contract_id = ANY(:ids) ORDER BY contract_id, effective_from,"
                  " document_number",
    # the day's totals and the reasons; the hour-by-hour schedule stays with `GET /schedule`
    "applications": "SELECT contract_id, day, status, submitted_at, requested_kwh, accepted_kwh, reasons,"
                    " free_volume_kwh, corrections FROM applications WHERE contract_id = ANY(:ids)"
                    " ORDER BY contract_id, day",
    "supply_conditions": "SELECT * FROM supply_conditions WHERE contract_id = ANY(:ids) ORDER BY contract_id",
}

HANDLERS = export_handlers(PersonalDataExported, QUERIES)
