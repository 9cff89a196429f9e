"""How invoicing answers a document as a PDF: an attachment named after the document and its contract."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

PDF_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}


def pdf_attachment(content: bytes, *names: str) -> Response:
    """`content` as `<name>-<name>….pdf` (a `/` of a document or contract number becomes `-`)."""
    name = "-".join(names).replace("/", "-")
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
