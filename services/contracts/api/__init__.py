"""The contracts service's HTTP routes, one module per resource; each route parses its request, hands the
command to the application (`services/contracts/application.py`) or reads through `queries.py`."""

from services.contracts.api import (
    amendments,
    applications,
    contacts,
    contracts,
    day_close,
    imports,
    reports,
    schedule,
    termination,
)

routers = [imports.router, amendments.router, termination.router, day_close.router, contracts.router,
           applications.router, schedule.router, reports.router, contacts.router]
