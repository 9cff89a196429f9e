"""The invoicing service: the settlement ledger of every contract."""

from __future__ import annotations

from services.invoicing import approvals_api, books_api, claim_corrections, personal_data
from services.invoicing.api import MAX_STATEMENT_BYTES, PAYMENT_ROUTE, router
from services.invoicing.handlers import FROM_CONTRACTS, FROM_METERING
from services.invoicing.projection import projector
from shared import personal_keys
from shared.events import topic_of
from shared.service import KeyCopies, ServiceDefinition

definition = ServiceDefinition(
    name="invoicing",
    title="Invoicing",
    description="The settlement ledger: accounts, prepayment, invoices, payments, penalties, statements.",
    projector=projector,
    application=lambda service: service,
    routers=[router, approvals_api.router, books_api.router],
    subscriptions={topic_of("contracts"): FROM_CONTRACTS, topic_of("metering"): FROM_METERING,
                   topic_of("claims"): {**claim_corrections.HANDLERS, **personal_data.HANDLERS,
                                        **personal_keys.shredded_handlers(personal_data.refresh)}},
    key_copies=KeyCopies(refresh=personal_data.refresh),
    fast_routes=(PAYMENT_ROUTE,),
    body_limits={"/payments/import": MAX_STATEMENT_BYTES},
)

Settings = definition.settings_class
build = definition.build
