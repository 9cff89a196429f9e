"""Access and portability (law 94-V): the counterparty's data from all four services, as one archive.

The desk asks (`PersonalDataExportRequested`), each service answers with its part, and the request is
answered once every part is in. The archive is a zip of one JSON file per service and a manifest with
each file's SHA-256, so the counterparty can check nothing was altered on the way. Building it is
pure: the same parts give the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from services.claims.domain.personal_data import receive_request
from services.claims.events import (
    ExportingService,
    PersonalDataExportPartReceived,
    PersonalDataRequestAnswered,
    PersonalDataRequested,
    PersonalDataRequestKind,
    PersonalDataRequestOverdue,
)
from shared.events.claims import PersonalDataExportRequested, SealedFields, part_file, sha256_of
from shared.events.registry import Event
from shared.events.sealing import SealText

SERVICES: tuple[ExportingService, ...] = ("contracts", "metering", "invoicing", "claims")
EXPORT_KINDS = ("access", "portability")
ARCHIVE_FORMAT = "settlement-ledger personal-data export v1"


def stream_id(request_id: str) -> str:
    return f"personal-data-request-{request_id}"


@dataclass(frozen=True)
class DataRequest:
    """An access, portability or correction request, open until answered."""

    request_id: str
    contract_id: str
    kind: PersonalDataRequestKind
    answer_due: date
    contract_ids: tuple[str, ...] = ()
    parts: dict[str, str] = field(default_factory=dict)    # service -> SHA-256 of its file
    answered_on: date | None = None
    overdue: bool = False
    version: int = 0


def evolve(state: DataRequest | None, event: Event) -> DataRequest:
    if isinstance(event, PersonalDataRequested):
        return DataRequest(event.request_id, event.contract_id, event.kind, event.answer_due, version=1)
    assert state is not None, f"{event.event_type} before its request"
    state = replace(state, version=state.version + 1)
    match event:
        case PersonalDataExportRequested():
            return replace(state, contract_ids=tuple(event.contract_ids))
        case PersonalDataExportPartReceived():
            return replace(state, parts={**state.parts, event.service: event.sha256})
        case PersonalDataRequestAnswered():
            return replace(state, answered_on=event.answered_on)
        case PersonalDataRequestOverdue():
            return replace(state, overdue=True)
    return state


def fold(events: Iterable[Event]) -> DataRequest | None:
    return fold_onto(None, events)


def fold_onto(state: DataRequest | None, events: Iterable[Event]) -> DataRequest | None:
    for event in events:
        state = evolve(state, event)
    return state


def request_export(*, request_id: str, contract_id: str, kind: PersonalDataRequestKind, received_on: date,
                   details: str, contract_ids: list[str], seal: SealText) -> list[Event]:
    assert kind in EXPORT_KINDS and contract_id in contract_ids
    return [receive_request(request_id=request_id, contract_id=contract_id, kind=kind, received_on=received_on,
                            details=details, seal=seal),
            PersonalDataExportRequested(request_id=request_id, contract_id=contract_id,
                                        contract_ids=sorted(contract_ids))]


def answer_correction(state: DataRequest | None, *, contract_id: str, corrected_on: date) -> list[Event]:
    """The owner of the contacts corrected them: a correction request still open is answered by that
    (only one filed on the same contract: a mistyped request id answers nothing)."""
    if (state is None or state.kind != "correction" or state.contract_id != contract_id
            or state.answered_on is not None):
        return []
    return [PersonalDataRequestAnswered(request_id=state.request_id, contract_id=state.contract_id,
                                        answered_on=corrected_on, answered_in_time=corrected_on <= state.answer_due,
                                        parts={})]


def close_day(state: DataRequest | None, *, day: date) -> list[Event]:
    """Day close of `day`: a request still unanswered after its last day to answer is overdue, once."""
    if state is None or state.answered_on is not None or state.overdue or state.answer_due > day:
        return []
    return [PersonalDataRequestOverdue(request_id=state.request_id, contract_id=state.contract_id,
                                       answer_due=state.answer_due, closed_day=day)]


def receive_part(state: DataRequest, *, service: ExportingService, sha256: str, sealed: SealedFields,
                 on: date) -> list[Event]:
    """A service's part, sealed, with the digest of its file (the answering service's: the desk records it
    without opening the part; the archive checks it when it does). The last part answers the request
    (dated `on`). A part already in adds nothing: the answers arrive at least once."""
    if service in state.parts or state.answered_on is not None:
        return []
    received = PersonalDataExportPartReceived(request_id=state.request_id, contract_id=state.contract_id,
                                              service=service, sha256=sha256, part=sealed)
    parts = {**state.parts, service: received.sha256}
    if set(parts) != set(SERVICES):
        return [received]
    return [received, PersonalDataRequestAnswered(request_id=state.request_id, contract_id=state.contract_id,
                                                  answered_on=on, answered_in_time=on <= state.answer_due,
                                                  parts=parts)]


def archive(state: DataRequest, parts: dict[str, dict[str, Any]]) -> bytes:
    """The zip handed to the counterparty: `manifest.json` and `<service>.json` per part."""
    assert state.answered_on is not None, "an archive is assembled once every part is in"
    files = {service: part_file(parts[service]) for service in SERVICES}
    if {s: sha256_of(f) for s, f in files.items()} != state.parts:
        # not an assert: the check must survive `python -O`, it is what the manifest promises
        raise AssertionError("a stored part does not match its digest")
    manifest = {
        "format": ARCHIVE_FORMAT,
        "request_id": state.request_id,
        "contract_ids": list(state.contract_ids),
        "answered_on": state.answered_on.isoformat(),
        "parts": [{"service": s, "file": f"{s}.json", "sha256": sha256_of(files[s]), "bytes": len(files[s])}
                  for s in SERVICES],
    }
    # every entry dated the day of the answer: the archive's bytes depend on nothing but its contents
    stamp = (state.answered_on.year, state.answered_on.month, state.answered_on.day, 0, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive_file:
        for name, data in [("manifest.json", part_file(manifest))] + [(f"{s}.json", files[s]) for s in SERVICES]:
            archive_file.writestr(zipfile.ZipInfo(name, date_time=stamp), data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
