"""Metering's commands as they arrive (the bodies of its HTTP commands, plain text only) and the typed
answers that are not its own events: a readings file's report and a day close. A command answering the
events it recorded declares them (`application.py`)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from shared.business_time import BusinessDate, BusinessMoment, ClosedDay
from shared.calendar import ASTANA_ZONE_NAME, MONTH_PATTERN
from shared.quantities import Kwh, Reading
from shared.text import PlainText

ContractId = Field(min_length=1, max_length=100)


# ---- meters ---------------------------------------------------------------------------------------------
class ReplaceMeter(PlainText):
    new_serial: str = Field(min_length=1, max_length=64)
    final_reading_old: Reading
    initial_reading_new: Reading
    at: BusinessMoment = Field(description="when the old meter stopped and the new one started counting")
    meter_type: str | None = Field(None, max_length=100, description="the old meter's type when absent")
    accuracy_class: str | None = Field(None, max_length=20)


class ChangeTransformerRatio(PlainText):
    ct_ratio: str = Field(pattern=r"^ *[0-9]+ */ *[0-9]+ *$", examples=["300/5"])
    vt_ratio: str = Field(pattern=r"^ *[0-9]+ */ *[0-9]+ *$", examples=["35000/100"])
    multiplier: int | None = Field(None, gt=0, description="checked against CT × VT when given")
    effective_at: BusinessMoment
    register_kwh: Reading | None = Field(None,
                                         description="the register at that moment: splits a register day")


# ---- the month's volume and its act -----------------------------------------------------------------------
class RecordActualBalance(PlainText):
    period: str = Field(pattern=MONTH_PATTERN)
    volume_kwh: Kwh
    published_on: BusinessDate
    issued_on: BusinessDate | None = Field(None, description="the act's date; the publication date when absent")
    delivered_on: BusinessDate | None = Field(None, description="when the buyer received the act; the issue date when absent")
    meter_volume_kwh: Kwh | None = Field(None,
                                             description="when absent: the sum of the month's measured daily "
                                                         "volumes, if every day is measured and complete")


class DeclareCalendarDay(PlainText):
    """A day declared working or not over the official calendar (a holiday it lacks, an announced Kurban Ait)."""

    day: date
    working: bool = Field(description="true: a working day whatever the official calendar says; false: a day off")
    reason: str = Field(min_length=1, max_length=500, description="the decree or announcement")


class SignAct(PlainText):
    contract_id: str = ContractId
    signed_on: BusinessDate


class DisputeAct(PlainText):
    contract_id: str = ContractId
    disputed_on: BusinessDate
    reason: str = Field(min_length=3, max_length=1000)


class CorrectAct(PlainText):
    contract_id: str = ContractId
    volume_kwh: Kwh
    issued_on: BusinessDate
    delivered_on: BusinessDate | None = None


class PreliminaryAct(PlainText):
    period: str = Field(pattern=MONTH_PATTERN)
    received_on: BusinessDate
    volume_kwh: Kwh


class CloseDay(PlainText):
    day: ClosedDay


class DayClosed(BaseModel):
    """What a day close decided: per contract, the acts it deemed accepted."""

    day: date
    deemed_accepted: dict[str, list[str]] = Field(description="contract id → the acts deemed accepted that day")


# ---- readings and daily volumes ---------------------------------------------------------------------------
class ImportReadings(PlainText):
    """A readings file's description, in the query (the file itself is the request's body)."""

    format: str = Field("csv", pattern="^(csv|80020)$")
    side: str | None = Field(None, pattern="^(primary|secondary)$",
                             description="secondary: raw meter values, × CT × VT later; primary: already scaled. "
                                         "Absent: the format's convention (80020 primary, CSV secondary)")
    time_zone: str = Field(ASTANA_ZONE_NAME, max_length=64, description="zone of times written without an offset")
    file_name: str = Field("upload", max_length=255)

    def side_of_values(self) -> str:
        """The side the values are on: as stated, else the format's convention. An 80020 file carries the
        energy at the measuring point, already × CT × VT (primary); a CSV is a raw meter export (secondary)."""
        return self.side or SIDE_OF_FORMAT[self.format]


SIDE_OF_FORMAT = {"80020": "primary", "csv": "secondary"}


class RejectedLine(BaseModel):
    line: int
    reason: str = Field(description="why the line was not stored (`unknown_meter`, `register_decreased`, …)")
    message: str


class ReadingsImportReport(BaseModel):
    """A readings file's outcome: stored completely or not at all, each refused line with its reason."""

    file_sha256: str
    already_imported: bool = Field(description="the same bytes were imported before: nothing was added")
    accepted: int
    skipped_already_stored: int
    rejected: list[RejectedLine]
    receipt_80021: str | None = Field(None, description="the XML 80021 receipt of an 80020 file (null for CSV)")
    side: str = Field(description="the side the file's values were taken on: primary (already × CT × VT) or "
                                  "secondary (× CT × VT when measured)")


class MeasureVolumes(PlainText):
    contract_id: str = ContractId
    first_day: date
    last_day: date
    time_zone: str = Field(ASTANA_ZONE_NAME, max_length=64, description="the contract's zone: where a day begins")
