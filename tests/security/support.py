"""What the attack tests share: counting a service's events, posting files and payments."""

from __future__ import annotations

from sqlalchemy import text

from tests.support import auth

CSV_HEADER = "bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n"


async def events_in(system, service: str) -> int:
    """Rows of the service's event store: a refusal must leave it as it was."""
    async with system[service].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


async def import_statement(system, raw: bytes, format: str = "1c", **params):
    return await system.clients["invoicing"].post("/payments/import", params={"format": format, **params},
                                                  content=raw, headers=auth())


def outcomes(report: dict) -> list[tuple[int, str]]:
    return [(line["line"], line["outcome"]) for line in report["lines"]]


def payment(contract_id: str, reference: str, amount: str = "100.00", received_on: str = "2022-02-07") -> dict:
    return {"contract_id": contract_id, "bank_reference": reference, "received_on": received_on,
            "amount": {"amount": amount, "currency": "KZT"}, "purpose": "attack test"}
