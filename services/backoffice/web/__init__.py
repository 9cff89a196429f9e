"""The pages: one module per desk's page, each calling the services through `PersonCalls`."""

from services.backoffice.web import (
    account,
    audit,
    auth,
    claims,
    contracts,
    dispatch,
    metering,
    today,
    treasury,
    volumes,
)

routers = [auth.router, today.router, contracts.router, account.router, audit.router, treasury.router, claims.router,
           dispatch.router, metering.router, volumes.router]
