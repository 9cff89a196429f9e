"""The back office's message catalogue: `python -m devtools.catalogue update` extracts every message of the
templates and the code (`_()`, `N_()`) into each language's messages.po, keeping what is translated;
`check` lists messages with no translation (tests/unit/test_backoffice_catalogue.py fails on any)."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "services" / "backoffice"
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}


def extracted() -> Catalog:
    template = Catalog(project="backoffice")
    for filename, lineno, message, comments, _context in extract_from_dir(
            ROOT, METHODS, keywords=KEYWORDS, options_map={"templates/**.html": {"trimmed": "true"}}):
        template.add(message, locations=[(filename, lineno)], auto_comments=comments)
    return template


def po_path(language: str) -> Path:
    return ROOT / "locale" / language / "LC_MESSAGES" / "messages.po"


def untranslated(language: str = "ru") -> list[str]:
    with po_path(language).open("rb") as source:
        catalog = read_po(source, locale=language)
    wanted = {message.id for message in extracted() if message.id}
    have = {message.id: message.string for message in catalog if message.id}
    return sorted(str(mid) for mid in wanted if not have.get(mid))


def update(language: str = "ru") -> None:
    path = po_path(language)
    if path.exists():
        with path.open("rb") as source:
            catalog = read_po(source, locale=language)
    else:
        catalog = Catalog(locale=language, project="backoffice")
    template = extracted()
    # reason codes and other messages written only in the catalogue (msgid `reason:*`) are kept
    kept = {m.id: m for m in catalog if isinstance(m.id, str) and m.id.startswith("reason:") and m.string}
    catalog.update(template, no_fuzzy_matching=True)
    for mid, message in kept.items():
        if mid not in catalog:
            catalog.add(mid, message.string)
    catalog.obsolete.clear()
    with path.open("wb") as target:
        write_po(target, catalog, width=120, sort_output=True, omit_header=False, no_location=True)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "update":
        update()
    missing = untranslated()
    for message in missing:
        print(f"untranslated: {message!r}")
    sys.exit(1 if missing and command == "check" else 0)
