"""HTTP queries of the settlement ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import text

from shared.auth import READERS, Actor, require
from shared.errors import NotFound
from shared.money import Money
from shared.service import Service, get_service

router = APIRouter(tags=["accounts"])


class AccountView(BaseModel):
    contract_id: str
    contract_number: str
    buyer_name: str
    balance: Money
    opened_at: datetime
    terms: dict[str, Any]


@router.get("/accounts/{contract_id}", response_model=AccountView)
async def get_account(contract_id: str, _actor: Annotated[Actor, Depends(require(READERS))],
                      service: Annotated[Service, Depends(get_service)]) -> AccountView:
    async with service.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM accounts WHERE contract_id = :id"),
                                  {"id": contract_id})).mappings().first()
    if row is None:
        raise NotFound(f"no account for contract {contract_id}", reason="account_not_found")
    return AccountView(contract_id=row["contract_id"], contract_number=row["contract_number"],
                       buyer_name=row["buyer_name"], balance=Money(row["balance"], row["currency"]),
                       opened_at=row["opened_at"], terms=row["terms"])
