"""The invoicing service: the settlement ledger of every contract."""

from __future__ import annotations

from shared.events import topic_of
from shared.service import Service, ServiceDefinition
from shared.settings import settings_class

from services.invoicing.api import router
from services.invoicing.handlers import HANDLERS
from services.invoicing.projection import projector

Settings = settings_class("invoicing")

definition = ServiceDefinition(
    name="invoicing",
    title="Invoicing",
    description="The settlement ledger: accounts, prepayment, invoices, payments, penalties, statements.",
    projector=projector,
    routers=[router],
    subscriptions={topic_of("contracts"): HANDLERS},
)


def build(settings=None, **kwargs) -> Service:
    return Service(definition, settings or Settings(), **kwargs)
