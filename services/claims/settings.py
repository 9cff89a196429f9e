"""Settings of the claims desk's own rules (the process settings are shared/settings.py)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMS_", extra="ignore")

    survey_satisfied_from: Decimal = Field(
        Decimal(4), ge=1, le=5, description="a customer whose mean score reaches this is counted satisfied")


@cache
def desk_settings() -> DeskSettings:
    return DeskSettings()
