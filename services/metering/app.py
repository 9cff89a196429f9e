"""The metering service: delivery points, meters, readings, the actual balance, volume acts."""

from __future__ import annotations

from services.metering.api import routers
from services.metering.api.readings import MAX_FILE_BYTES
from services.metering.application import Metering
from services.metering.handlers import FROM_CLAIMS, FROM_CONTRACTS
from services.metering.projection import projector
from shared.events import topic_of
from shared.service import KeyCopies, ServiceDefinition

definition = ServiceDefinition(
    name="metering",
    title="Metering",
    description="Delivery points and meters, readings to volumes, the actual balance and volume acts.",
    projector=projector,
    application=Metering,
    routers=routers,
    subscriptions={topic_of("contracts"): FROM_CONTRACTS, topic_of("claims"): FROM_CLAIMS},
    # metering holds no name or contact: its copy of each key seals its part of an export, nothing else
    key_copies=KeyCopies(),
    body_limits={"/readings/import": MAX_FILE_BYTES},
)

Settings = definition.settings_class
build = definition.build
