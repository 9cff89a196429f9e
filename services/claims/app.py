"""The claims service: claims and their deadlines, surveys, personal-data requests."""

from __future__ import annotations

from services.claims import personal_keys
from services.claims.api import routers
from services.claims.application import Claims
from services.claims.handlers import FROM_CONTRACTS, FROM_INVOICING, FROM_METERING
from services.claims.projection import projector, refresh
from shared.events import topic_of
from shared.service import KeyCopies, ServiceDefinition

definition = ServiceDefinition(
    name="claims",
    title="Claims",
    description="Pre-trial claims with their 15-day deadline, satisfaction surveys, personal-data requests.",
    projector=projector,
    application=Claims,
    routers=routers,
    subscriptions={topic_of("contracts"): FROM_CONTRACTS, topic_of("metering"): FROM_METERING,
                   topic_of("invoicing"): FROM_INVOICING},
    key_copies=KeyCopies(refresh=refresh, shred=personal_keys.shred),
)

Settings = definition.settings_class
build = definition.build
