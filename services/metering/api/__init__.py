"""Metering's HTTP API, one module per resource: meters, volume acts, readings, reports, the calendar."""

from __future__ import annotations

from services.metering.api import acts, calendar, meters, readings, reports

routers = [meters.router, acts.router, readings.router, reports.router, calendar.router]
