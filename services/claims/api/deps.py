"""What the claims desk's routes depend on, declared once: its application, the desks that send its
commands, the readers, and the service itself for a read that is logged (`shared/access_log.read_logged`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.claims.application import Claims
from shared.api import Reader, application_of, desk
from shared.auth import Role
from shared.http_app import get_service
from shared.service import Service

App = Annotated[Claims, Depends(application_of(Claims))]
ClaimsDesk = desk(Role.CLAIMS)       # claims, day close, force majeure, surveys
Privacy = desk(Role.PRIVACY)         # consents, personal-data requests, deletions, archives
ServiceDep = Annotated[Service, Depends(get_service)]

__all__ = ["App", "ClaimsDesk", "Privacy", "Reader", "ServiceDep"]
