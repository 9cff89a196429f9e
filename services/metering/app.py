"""The metering service: delivery points, meters, readings, the actual balance, volume acts."""

from __future__ import annotations

from shared.events import topic_of
from shared.service import Service, ServiceDefinition
from shared.settings import settings_class

from services.metering.api import router
from services.metering.handlers import HANDLERS
from services.metering.projection import projector

Settings = settings_class("metering")

definition = ServiceDefinition(
    name="metering",
    title="Metering",
    description="Delivery points and meters, readings to volumes, the actual balance and volume acts.",
    projector=projector,
    routers=[router],
    subscriptions={topic_of("contracts"): HANDLERS},
)


def build(settings=None, **kwargs) -> Service:
    return Service(definition, settings or Settings(), **kwargs)
