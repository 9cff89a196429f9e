"""The contracts service: contracts, parties, price schedules, applications (issue by issue)."""

from __future__ import annotations

from services.contracts.api import router
from services.contracts.projection import projector
from shared.service import ServiceDefinition

definition = ServiceDefinition(
    name="contracts",
    title="Contracts",
    description="Contracts, parties, price schedules and amendments; publishes ContractSigned and the rest.",
    projector=projector,
    routers=[router],
    subscriptions={},
)

Settings = definition.settings_class
build = definition.build
