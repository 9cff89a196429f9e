"""The back office's vendored front-end files are exactly the pinned releases: each file's sha256 is the one
recorded beside it (a file changed by hand, or a different release dropped in, fails here), and every page
names only files that exist under /static (no CDN)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

BACKOFFICE = Path(__file__).resolve().parents[2] / "services" / "backoffice"
STATIC = BACKOFFICE / "static"


def test_vendored_files_match_their_recorded_checksums():
    recorded = [line.split() for line in (STATIC / "VENDORED.sha256").read_text().splitlines() if line.strip()]
    assert {name for _digest, name in recorded} == {"htmx-2.0.11.min.js", "chart-4.6.2.umd.min.js"}
    for digest, name in recorded:
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name


def test_pages_load_scripts_and_styles_only_from_this_site():
    for template in (BACKOFFICE / "templates").rglob("*.html"):
        html = template.read_text(encoding="utf-8")
        for address in re.findall(r'(?:src|href)="([^"{]+)"', html):
            if address.startswith("/static/"):
                assert (STATIC / address.removeprefix("/static/")).exists(), (template.name, address)
            else:
                assert not address.startswith(("http:", "https:", "//")), (template.name, address)
        assert "<style" not in html and " style=" not in html, template.name   # the CSP admits no inline style
        assert not re.search(r"<script(?![^>]*(src=|type=\"application/json\"))", html), template.name
