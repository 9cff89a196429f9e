"""Events published by the metering service (topic `metering.events.v1`) that other services read: the
volume act (invoicing charges it) and its dispute (invoicing holds the month's invoice out of collection until a
corrected act replaces it), a calendar day an administrator declared (invoicing counts its banking-day
deadlines with it) and the part of a personal-data export (claims assembles it). The events only metering
reads are `services/metering/events.py`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from shared.events.personal_data import PersonalDataPart, upcast_part_v1_v2
from shared.events.registry import Event, registry


@registry.register
class VolumeActIssued(Event):
    """The "Act on volumes supplied" for a month (§4.13), from the system operator's actual balance.

    A corrected act names the act it replaces; the ledger then charges the difference only.
    """

    event_type = "metering.VolumeActIssued"
    schema_version = 1

    act_id: str
    contract_id: str
    period: str  # "YYYY-MM"
    volume_kwh: Decimal
    issued_on: date
    corrects_act_id: str | None = None
    delivered_on: date | None = None       # when the buyer received it: the 15 days run from here
    issue_deadline: date | None = None     # 3 working days after the balance was published


@registry.register
class VolumeActDisputed(Event):
    """The buyer contests the act (§4.14); a corrected act naming it will replace it. Invoicing holds the
    month's invoice out of collection until then."""

    event_type = "metering.VolumeActDisputed"
    schema_version = 1

    contract_id: str
    act_id: str
    disputed_on: date
    reason: str


class CalendarDay(Event):
    """A day declared working or not over the official calendar: what a declaration and its copies say."""

    contract_id: str = "*"   # the calendar is every contract's
    day: date
    working: bool
    reason: str


@registry.register
class CalendarDayDeclared(CalendarDay):
    """An administrator declares a day working or not, over the official calendar (`shared/calendar.py`):
    a holiday the package lacks (Constitution Day of a year it does not know yet) or a Kurban Ait it only
    estimates. Deadlines in working days (metering's §4.13, invoicing's
    banking days of §5.3 and §5.4) are counted with every declaration recorded before."""

    event_type = "metering.CalendarDayDeclared"
    schema_version = 1


@registry.register
class PersonalDataExported(PersonalDataPart):
    """What the metering service holds about a counterparty, in answer to `claims.PersonalDataExportRequested`."""

    event_type = "metering.PersonalDataExported"
    schema_version = 2


registry.upcaster(PersonalDataExported.event_type, 1)(upcast_part_v1_v2)
