"""The interface's language: messages are written in English in the templates and the code, and shown from
the catalogue of the person's language (`locale/<language>/LC_MESSAGES/messages.po`, gettext through
Babel). Russian is the one catalogue today; a Kazakh one is a new directory beside it.

Refusals from the services keep their reason code; the catalogue turns a known code into a sentence
(msgid `reason:<code>`), and an unknown one shows the service's own message beside its code."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "ru"


@functools.cache
def translations(language: str = DEFAULT_LANGUAGE) -> Translations:
    """The compiled catalogue, built in memory from the .po file once per process (no compiled files to
    keep in step with their sources)."""
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def N_(message: str) -> str:
    """Marks an English message for the catalogue where it is written; the template translates it where it
    is shown (a column's label, a menu entry)."""
    return message


def gettext(message: str, language: str = DEFAULT_LANGUAGE) -> str:
    return translations(language).gettext(message)


def reason_text(reason: str, message: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A service's refusal in the person's language: the catalogue's sentence for its reason code, or the
    service's own message when the catalogue has none."""
    key = f"reason:{reason}"
    said = translations(language).gettext(key)
    return message if said == key else said
