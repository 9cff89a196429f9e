"""What the contracts service's routes depend on, declared once: its application, the desks that send its
commands, and the service itself for the reads that are logged (`shared.access_log.read_logged`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.contracts.application import Contracts
from shared.api import Reader, application_of, desk
from shared.auth import Role
from shared.http_app import get_service
from shared.service import Service

App = Annotated[Contracts, Depends(application_of(Contracts))]
ServiceDep = Annotated[Service, Depends(get_service)]

ContractsDesk = desk(Role.CONTRACTS)            # registers, signs, amends, terminates contracts
Dispatch = desk(Role.DISPATCH)                  # takes the buyers' daily applications
ContactsDesk = desk(Role.CONTRACTS, Role.PRIVACY)   # corrects a buyer's contacts at its request

__all__ = ["App", "ServiceDep", "ContractsDesk", "Dispatch", "ContactsDesk", "Reader"]
