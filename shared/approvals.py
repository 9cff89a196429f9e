"""Four eyes: a correction that moves money or ends rights is asked for by one person and approved by
another (architecture MUST 11).

Each such correction is two events in its stream: the request (who asked, what, why) and then either
the correction itself, carrying who approved it, or a decline. The rules that decide them are pure;
this module holds what every service's requests share: the pending request and the check that the
person approving is not the person who asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.errors import Conflict, DomainError, NotFound


class OwnRequest(DomainError):
    """Approving (or declining) one's own request: the second pair of eyes must be another person's."""

    http_status = 403
    default_reason = "own_request"


@dataclass(frozen=True)
class Pending:
    """A request awaiting its second person: `action` is the request event's type, `request` the event."""

    request_id: str
    action: str
    requested_by: str
    request: Any


def check_approver(pending: Pending, person: str) -> None:
    if person == pending.requested_by:
        raise OwnRequest(f"{person} asked for this; another person approves or declines it",
                         details={"request_id": pending.request_id, "requested_by": pending.requested_by})


def pending_request(pending: dict[str, Pending], request_id: str) -> Pending:
    found = pending.get(request_id)
    if found is None:
        raise NotFound(f"no request {request_id} awaits approval", reason="request_not_found")
    return found


def no_request_pending(pending: dict[str, Pending], action: str, **same: Any) -> None:
    """One request at a time for the same thing (the same payment's reversal, the same penalty's waiver)."""
    for item in pending.values():
        if item.action == action and all(getattr(item.request, name) == value for name, value in same.items()):
            raise Conflict(f"request {item.request_id} for this already awaits approval",
                           reason="request_already_pending", details={"request_id": item.request_id})
