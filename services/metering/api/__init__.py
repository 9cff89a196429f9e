"""Metering's HTTP API, one module per resource: meters, volume acts, readings, reports."""

from __future__ import annotations

from services.metering.api import acts, meters, readings, reports

routers = [meters.router, acts.router, readings.router, reports.router]
