"""The contracts service: contracts, parties, price schedules, applications (issue by issue)."""

from __future__ import annotations

from shared.service import Service, ServiceDefinition
from shared.settings import settings_class

from services.contracts.api import router
from services.contracts.projection import projector

Settings = settings_class("contracts")

definition = ServiceDefinition(
    name="contracts",
    title="Contracts",
    description="Contracts, parties, price schedules and amendments; publishes ContractSigned and the rest.",
    projector=projector,
    routers=[router],
    subscriptions={},
)


def build(settings=None, **kwargs) -> Service:
    return Service(definition, settings or Settings(), **kwargs)
