"""The metering service: delivery points, meters, readings, the actual balance, volume acts."""

from __future__ import annotations

from services.metering import claim_corrections, personal_data
from services.metering.acts_api import router as acts_router
from services.metering.api import router
from services.metering.handlers import HANDLERS
from services.metering.projection import projector
from services.metering.readings_api import MAX_FILE_BYTES
from services.metering.readings_api import router as readings_router
from services.metering.reports_api import router as reports_router
from shared import personal_keys
from shared.events import topic_of
from shared.service import KeyCopies, ServiceDefinition

definition = ServiceDefinition(
    name="metering",
    title="Metering",
    description="Delivery points and meters, readings to volumes, the actual balance and volume acts.",
    projector=projector,
    application=lambda service: service,
    routers=[router, acts_router, readings_router, reports_router],
    subscriptions={topic_of("contracts"): HANDLERS,
                   topic_of("claims"): {**claim_corrections.HANDLERS, **personal_data.HANDLERS,
                                        **personal_keys.shredded_handlers()}},
    # metering holds no name or contact: its copy of each key seals its part of an export, nothing else
    key_copies=KeyCopies(),
    body_limits={"/readings/import": MAX_FILE_BYTES},
)

Settings = definition.settings_class
build = definition.build
