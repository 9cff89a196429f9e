"""Serve the back office: `python -m services.backoffice` (the container's command too)."""

import uvicorn

from services.backoffice.app import build
from services.backoffice.settings import BackofficeSettings
from shared.logging import configure_logging

settings = BackofficeSettings()
configure_logging("backoffice", settings.log_level)
uvicorn.run(build(settings), host=settings.host, port=settings.port, log_config=None, proxy_headers=True,
            server_header=False)
