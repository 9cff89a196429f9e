"""The claims service: claims and their deadlines, surveys, personal-data requests."""

from __future__ import annotations

from services.claims import personal_keys
from services.claims.api import router
from services.claims.claims_api import router as claims_router
from services.claims.handlers import HANDLERS
from services.claims.personal_data_api import router as personal_data_router
from services.claims.personal_data_export import ANSWERS
from services.claims.personal_data_export import router as export_router
from services.claims.projection import projector, refresh
from services.claims.surveys_api import router as surveys_router
from shared.events import topic_of
from shared.service import KeyCopies, ServiceDefinition

definition = ServiceDefinition(
    name="claims",
    title="Claims",
    description="Pre-trial claims with their 15-day deadline, satisfaction surveys, personal-data requests.",
    projector=projector,
    application=lambda service: service,
    routers=[router, claims_router, surveys_router, personal_data_router, export_router],
    subscriptions={topic_of("contracts"): {**HANDLERS, **ANSWERS["contracts"]},
                   topic_of("metering"): ANSWERS["metering"], topic_of("invoicing"): ANSWERS["invoicing"]},
    key_copies=KeyCopies(refresh=refresh, shred=personal_keys.shred),
)

Settings = definition.settings_class
build = definition.build
