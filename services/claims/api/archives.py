"""The archive of an access or portability request (law 94-V): everything the four services hold about
the counterparty, one zip; reading it is logged like every read of personal data."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.claims.api.deps import App, Privacy, ServiceDep
from shared.access_log import read_logged
from shared.api import COMMAND_ERRORS, READ_ERRORS

router = APIRouter(tags=["personal data"])


@router.get("/personal-data/requests/{request_id}/archive", response_class=Response,
            responses={200: {"content": {"application/zip": {}}, "description": "the archive"},
                       **READ_ERRORS, 409: COMMAND_ERRORS[409]})
async def get_archive(request_id: str, request: Request, actor: Privacy, app: App, service: ServiceDep) -> Response:
    """The zip of everything the four services hold about the counterparty (409 `export_incomplete` until
    every service has answered); the read is logged."""
    archive = await read_logged(service, request, actor, lambda conn: app.archive(conn, request_id),
                                lambda found: found.contract_ids)
    return Response(archive.data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="personal-data-{request_id}.zip"'})
