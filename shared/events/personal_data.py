"""What every service's events about personal data share (law 94-V): the access log's event base (a read of a
buyer's name, identifiers or contacts through a service's API) and an export part's (a service's answer to an
access or portability request), with the file form of a part and its digest.

Each service publishes its own subclasses (`<service>.PersonalDataRead`, `<service>.PersonalDataExported`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shared.events.registry import Event
from shared.events.sealing import Sealed, recorded_in_clear


class PersonalDataAccess(Event):
    """Someone read personal data through a service's API (the access log, as events): who, by which
    route (what was read) and the contracts whose data were returned. Each service logs in its own store
    with its own subclass (`<service>.PersonalDataRead`); the other services skip it by its type."""

    contract_ids: list[str]
    actor: str
    route: str


class PersonalDataPart(Event):
    """A service's answer to `PersonalDataExportRequested`: what it holds about those contracts, sealed with
    the key of `contract_id` (the answering service's copy of it), so no plaintext part stays in any
    append-only store or topic. `sha256` is of the part's file in the archive (`part_file`): the desk
    records it without opening the part, and the archive checks it when it opens the part.
    Each answering service publishes its own subclass (`<service>.PersonalDataExported`); v1 carried
    the part in clear."""

    request_id: str
    contract_id: str
    contract_ids: list[str]
    part: Sealed
    sha256: str


def part_file(part: dict[str, Any]) -> bytes:
    """A part as its file in the archive: readable JSON, keys sorted, so the same part has one SHA-256."""
    return json.dumps(part, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upcast_part_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """A v1 part was plain JSON: handed on as recorded in clear (its stored bytes keep it so), with the
    digest of its file computed here."""
    part = payload["part"]
    payload["part"] = recorded_in_clear(part)
    payload["sha256"] = sha256_of(part_file(part))
    return payload
