"""Invoicing's part of a counterparty's personal-data export (law 94-V access and portability): the
account, every statement line, the payments with their allocations and the open debts."""

from __future__ import annotations

from shared.events.invoicing import PersonalDataExported
from shared.personal_data import export_handlers

QUERIES = {
    "accounts": "SELECT * FROM accounts WHERE contract_id = ANY(:ids) ORDER BY contract_number",
    "statement_lines": "SELECT * FROM statement_lines WHERE contract_id = ANY(:ids)"
                       " ORDER BY contract_id, business_date, position",
    "payments": "SELECT * FROM payments WHERE contract_id = ANY(:ids) ORDER BY contract_id, received_on,"
                " bank_reference",
    "debts": "SELECT * FROM debts WHERE contract_id = ANY(:ids) ORDER BY contract_id, due_date, item_id",
}

HANDLERS = export_handlers(PersonalDataExported, QUERIES)
