"""The pages: one module per desk's page, each calling the services through `PersonCalls`."""

from services.backoffice.web import account, auth, claims, contracts, today, treasury

routers = [auth.router, today.router, contracts.router, account.router, treasury.router, claims.router]
