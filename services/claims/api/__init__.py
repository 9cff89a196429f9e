"""The claims desk's HTTP API, one module per resource."""

from services.claims.api import (
    archives,
    claims,
    consents,
    counterparties,
    day_close,
    force_majeure,
    personal_data_requests,
    surveys,
)

routers = [counterparties.router, claims.router, day_close.router, force_majeure.router, surveys.router,
           consents.router, personal_data_requests.router, archives.router]
