"""The contracts service: contracts, parties, price schedules, amendments, daily applications."""

from __future__ import annotations

from services.contracts.api import routers
from services.contracts.application import Contracts
from services.contracts.commands import MAX_IMPORT_BYTES
from services.contracts.handlers import FROM_CLAIMS, FROM_INVOICING
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
    application=Contracts,
    routers=routers,
    subscriptions={topic_of("invoicing"): FROM_INVOICING, topic_of("claims"): FROM_CLAIMS},
    owns_personal_keys=True,
    body_limits={"/contracts/import": MAX_IMPORT_BYTES},
)

Settings = definition.settings_class
build = definition.build
