"""The invoicing service: the settlement ledger of every contract."""

from __future__ import annotations

from services.invoicing import personal_data
from services.invoicing.api import routers
from services.invoicing.api.payments import MAX_STATEMENT_BYTES, PAYMENT_ROUTE
from services.invoicing.application import Invoicing
from services.invoicing.handlers import BATCHED, FROM_CLAIMS, FROM_CONTRACTS, FROM_METERING
from services.invoicing.projection import projector
from shared.consumer import LANES
from shared.events import topic_of
from shared.service import KeyCopies, ServiceDefinition

definition = ServiceDefinition(
    name="invoicing",
    title="Invoicing",
    description="The settlement ledger: accounts, prepayment, invoices, payments, penalties, statements.",
    projector=projector,
    application=Invoicing,
    routers=routers,
    subscriptions={topic_of("contracts"): FROM_CONTRACTS, topic_of("metering"): FROM_METERING,
                   topic_of("claims"): FROM_CLAIMS},
    batch_handlers=BATCHED,
    # every handler writes the message's contract's account alone (the calendar's declared days, keyed "*", all
    # in one lane), and a month's acts are decided together before they are appended: they go in two
    # transactions at once
    consumer_lanes=LANES,
    key_copies=KeyCopies(refresh=personal_data.refresh),
    fast_routes=(PAYMENT_ROUTE,),
    body_limits={"/payments/import": MAX_STATEMENT_BYTES},
)

Settings = definition.settings_class
build = definition.build
