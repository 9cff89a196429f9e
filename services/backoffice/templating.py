"""Jinja2 with the catalogue installed and the figures' formats as filters."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.backoffice import formats
from services.backoffice.i18n import reason_text, translations

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)
    env.install_gettext_translations(translations(), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(money=formats.money, day=formats.day, moment=formats.moment, number=formats.number,
                       local_input=formats.local_input)
    env.globals.update(reason_text=reason_text)
    return env
