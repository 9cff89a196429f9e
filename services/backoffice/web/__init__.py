"""The pages: one module per desk's page, each calling the services through `PersonCalls`."""

from services.backoffice.web import account, audit, auth, contracts, dispatch, metering, today, volumes

routers = [auth.router, today.router, contracts.router, account.router, audit.router, dispatch.router,
           metering.router, volumes.router]
