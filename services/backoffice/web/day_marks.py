"""How each hour of a contract's day came to be what it is, read from the day's events in the contracts
service (its stream `applications-<contract>-<day>`, `GET /streams/{id}/events`): nothing is decided
here, each mark names the event that made the hour what it is.

- accepted: the hour as requested (`ApplicationAccepted`, the hour's accepted value equal to its request);
- reduced: the service accepted less than requested (`ApplicationAccepted` with its reasons: above the plan
  and free volume, prepayment not covered), or cut the hour afterwards (`ApplicationReduced`: a restriction,
  a termination); an `ApplicationReinstated` gives back what its cut took;
- corrected: an operative correction changed the hour (`ApplicationCorrected`);
- rejected: the day has no accepted application (`ApplicationRejected`: late, nothing requested;
  `NoApplicationRecorded`: none by the deadline).
An application accepted again (on time, replacing the day's earlier one) starts the day's marks afresh."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

HOURS = 24
KINDS = ("accepted", "corrected", "reduced", "rejected")


@dataclass(frozen=True)
class HourMark:
    kind: str                        # one of KINDS
    before: Decimal | None = None    # the hour's value before the event that marked it (requested, or as it stood)
    reason: str | None = None        # the service's reason code, for a reduction


ACCEPTED = HourMark("accepted")
REJECTED = HourMark("rejected")


def day_stream(contract_id: str, day: date) -> str:
    """The contracts service's stream of a contract's day (its `day_stream_id`)."""
    return f"applications-{contract_id}-{day.isoformat()}"


def kind_of(status: str, reasons: Sequence[str], corrections: int | None) -> str:
    """The mark of a day as a whole, from its view: the contracts service names reasons on an accepted day
    only when it cut the day, so an accepted day with reasons is reduced; a day not accepted is rejected."""
    if status != "accepted":
        return "rejected"
    if reasons:
        return "reduced"
    return "corrected" if corrections else "accepted"


def uniform_marks(day_kind: str, reasons: Sequence[str] = ()) -> list[HourMark]:
    """Every hour marked as the day, when the day's events are not read (a day accepted as requested, or
    rejected, has nothing more to say hour by hour)."""
    if day_kind == "rejected":
        return [REJECTED] * HOURS
    if day_kind == "reduced":
        return [HourMark("reduced", reason=" ".join(reasons) or None)] * HOURS
    return [ACCEPTED] * HOURS


def _name(event: Mapping[str, Any]) -> str:
    return str(event["event_type"]).rsplit(".", 1)[-1]


def marks_of(events: Sequence[Mapping[str, Any]]) -> list[HourMark] | None:
    """The marks of the day's hours after its events, in their order; None when no application was
    decided (a free volume declared alone)."""
    marks: list[HourMark] | None = None
    hours: list[Decimal] = []
    before_cut: list[HourMark] | None = None
    for event in events:   # one day's stream: bounded by what the caller read
        payload = event["payload"]
        match _name(event):
            case "ApplicationAccepted":
                hours = [Decimal(h) for h in payload["hours"]]
                reason = " ".join(payload["reasons"]) or None
                marks = [HourMark("reduced", Decimal(asked), reason) if got < Decimal(asked) else ACCEPTED
                         for asked, got in zip(payload["requested_hours"], hours, strict=True)]
                before_cut = None
            case "ApplicationRejected" | "NoApplicationRecorded":
                marks, hours, before_cut = [REJECTED] * HOURS, [], None
            case "ApplicationCorrected" if marks is not None:
                hour = int(payload["hour"])
                marks[hour] = HourMark("corrected", Decimal(payload["previous_kwh"]))
                hours = [Decimal(h) for h in payload["hours"]]
            case "ApplicationReduced" if marks is not None:
                cut = [Decimal(h) for h in payload["hours"]]
                before_cut = list(marks)
                marks = [HourMark("reduced", was, payload["reason"]) if now < was else mark
                         for mark, was, now in zip(marks, hours, cut, strict=True)]
                hours = cut
            case "ApplicationReinstated" if before_cut is not None:
                marks, before_cut = before_cut, None
                hours = [Decimal(h) for h in payload["hours"]]
    return marks
