"""The contracts service: contracts, parties, price schedules, amendments, daily applications."""

from __future__ import annotations

from services.contracts import api, applications_api, lifecycle_api, personal_data, reports_api
from services.contracts.handlers import FROM_INVOICING
from services.contracts.projection import projector
from shared.events import topic_of
from shared.service import ServiceDefinition

definition = ServiceDefinition(
    name="contracts",
    title="Contracts",
    description="Contracts, parties, price schedules, amendments and daily applications; publishes "
                "ContractSigned, ApplicationAccepted and the rest; listens to the ledger's coverage, "
                "restriction and termination notices. Owns each contract's personal-data key and publishes it "
                "(a tombstone once shredded) to contracts.personal-data-keys.v1.",
    projector=projector,
    application=lambda service: service,
    routers=[lifecycle_api.router, api.router, applications_api.router, reports_api.router,
             personal_data.router],
    subscriptions={topic_of("invoicing"): FROM_INVOICING, topic_of("claims"): personal_data.HANDLERS},
    owns_personal_keys=True,
    body_limits={"/contracts/import": lifecycle_api.MAX_IMPORT_BYTES},
)

Settings = definition.settings_class
build = definition.build
