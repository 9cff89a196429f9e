"""The dependencies of invoicing's routes, declared once: its application, the desks that send its commands, the
readers, and the service itself for the reads logged in the access log (`shared/access_log.read_logged`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from services.invoicing.application import Invoicing
from shared.api import Reader, application_of, desk
from shared.auth import Role
from shared.http_app import get_service
from shared.service import Service
from shared.text import NO_CONTROL_CHARACTERS

App = Annotated[Invoicing, Depends(application_of(Invoicing))]
ServiceDep = Annotated[Service, Depends(get_service)]

Treasury = desk(Role.TREASURY)
Billing = desk(Role.BILLING)
Collections = desk(Role.COLLECTIONS)
Admin = desk(Role.ADMIN)
# a person of one of the desks that approve requests; the application checks it is the request's own desk
Approver = desk(Role.TREASURY, Role.BILLING, Role.COLLECTIONS)

__all__ = ["App", "Admin", "Approver", "Billing", "Collections", "DocumentQuery", "Reader", "ServiceDep", "Treasury"]

# a document number named in a query (`?document=`): printable text, as the ledger numbers its documents
DocumentQuery = Annotated[str, Query(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS,
                                     description="the document's number")]
