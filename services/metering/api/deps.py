"""The dependencies of metering's routes, declared once: its application, the metering desk that sends its
commands and the readers of its lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.metering.application import Metering
from shared.api import Reader, application_of, desk
from shared.auth import Role

App = Annotated[Metering, Depends(application_of(Metering))]
MeteringDesk = desk(Role.METERING)
Admin = desk(Role.ADMIN)   # configuration: the calendar

__all__ = ["Admin", "App", "MeteringDesk", "Reader"]
