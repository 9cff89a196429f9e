"""A notice the ledger sent the buyer (restriction §5.3/§7.1.1, termination §7.1.1, withdrawal §11.2) as its
letter, a PDF."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.invoicing import collection_queries
from services.invoicing.api.deps import DocumentQuery, Reader, ServiceDep
from services.invoicing.documents.notice_pdf import render
from shared.access_log import read_logged
from shared.api import PDF_ANSWER, READ_ERRORS, pdf_attachment

router = APIRouter(tags=["collection runs"], responses=READ_ERRORS)


@router.get("/accounts/{contract_id}/notice.pdf", response_class=Response, responses=PDF_ANSWER)
async def notice_pdf(contract_id: str, request: Request, actor: Reader, service: ServiceDep,
                     document: DocumentQuery) -> Response:
    """The notice `document` as the letter sent to the buyer. It names the buyer: the read is logged."""
    letter = await read_logged(service, request, actor,
                               lambda conn: collection_queries.notice_letter(conn, contract_id, document),
                               lambda _letter: [contract_id])
    return pdf_attachment(render(letter), document, letter.contract_number)
