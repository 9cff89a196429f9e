"""XML 80020: the daily commercial-metering file that ASKUE systems exchange, and its 80021 receipt.

Reads one operating day per file: `<message class="80020">`, the day, the sender, and for every
measuring point and channel the interval values (`<period start="hhmm" end="hhmm"><value status>`).
Values in 80020 are energy at the measuring point, normally already on the primary side (scaled by
CT × VT): the import source says which, so nothing is multiplied twice. Status 1 means "not for
commercial settlement": kept, flagged, never summed into a settlement volume. Parsed with defusedxml
(no entity expansion, no external entities).

A file that is not an 80020 day file at all (not XML, an encoding no parser knows, another message
class, no operating day) or that holds a value no meter writes (NaN, Infinity) is `malformed`: the
whole file is refused, its 80021 receipt says why (status 4 or 3). A damaged interval is not: it is
reported and the others are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeXML
from defusedxml import DefusedXmlException

CHANNELS = {"01": "active_import", "02": "active_export", "03": "reactive_import", "04": "reactive_export"}
MAX_PERIODS_PER_CHANNEL = 50  # 48 half-hours, 24 hours, or 50 on a fall-back day elsewhere


class ReceiptStatus:
    """The 80021 reply's status; a higher one is a worse one, and a file's status only ever worsens."""

    ACCEPTED = 0
    ACCEPTED_WITH_NON_COMMERCIAL = 1
    UNKNOWN_CHANNELS = 2
    FORMAT_ERROR = 3
    NOT_XML = 4


@dataclass(frozen=True)
class Interval:
    point_code: str
    point_name: str
    channel: str          # "01".."04"
    start: datetime       # local time of the operating day, naive: the import source gives the zone
    end: datetime
    value: Decimal | None
    commercial: bool


@dataclass(frozen=True)
class Problem:
    where: str
    reason: str
    message: str


@dataclass
class Parsed80020:
    number: str | None = None
    day: date | None = None
    sender_inn: str | None = None
    sender_name: str | None = None
    intervals: list[Interval] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    status: int = ReceiptStatus.ACCEPTED
    malformed: Problem | None = None  # why the whole file is refused (the first such problem)

    def refuse(self, status: int, problem: Problem) -> None:
        self.status = max(self.status, status)
        self.problems.append(problem)
        self.malformed = self.malformed or problem


def _text(element: Element | None) -> str | None:
    return element.text.strip() if element is not None and element.text else None


def _clock(text: str, day: date) -> datetime:
    if len(text) != 4 or not text.isdigit() or int(text[:2]) > 23 or int(text[2:]) > 59:
        raise ValueError(text)
    return datetime.combine(day, time(int(text[:2]), int(text[2:])))


def parse(raw: bytes) -> Parsed80020:
    result = Parsed80020()
    try:
        root = SafeXML.fromstring(raw)
    except (SafeXML.ParseError, DefusedXmlException) as exc:
        result.refuse(ReceiptStatus.NOT_XML, Problem("file", "not_xml", str(exc)[:200]))
        return result
    except (LookupError, ValueError) as exc:  # a declared encoding the parser does not know
        result.refuse(ReceiptStatus.NOT_XML, Problem("file", "unreadable_encoding", str(exc)[:200]))
        return result
    if root.tag != "message" or root.get("class") != "80020":
        result.refuse(ReceiptStatus.FORMAT_ERROR,
                      Problem("message", "not_80020", "the root must be <message class=\"80020\">"))
        return result
    result.number = root.get("number")
    try:
        result.day = datetime.strptime(_text(root.find("datetime/day")) or "", "%Y%m%d").date()
    except ValueError:
        result.refuse(ReceiptStatus.FORMAT_ERROR,
                      Problem("datetime/day", "invalid_day", "the operating day is not YYYYMMDD"))
        return result
    result.sender_inn = _text(root.find("sender/inn"))
    result.sender_name = _text(root.find("sender/name"))
    points = [p for area in root.findall("area") for tag in ("measuringpoint", "accountpoint", "deliverypoint")
              for p in area.findall(tag)]
    for point in points:
        _read_point(result, point)
    if result.status == ReceiptStatus.ACCEPTED and any(not i.commercial for i in result.intervals):
        result.status = ReceiptStatus.ACCEPTED_WITH_NON_COMMERCIAL
    return result


def _read_point(result: Parsed80020, point: Element) -> None:
    code, name = point.get("code", ""), point.get("name", "")
    assert result.day is not None
    for channel in point.findall("measuringchannel"):
        channel_code = channel.get("code", "")
        where = f"point {code} channel {channel_code}"
        if channel_code not in CHANNELS:
            result.status = max(result.status, ReceiptStatus.UNKNOWN_CHANNELS)
            result.problems.append(Problem(where, "unknown_channel", f"channel {channel_code!r} is not 01–04"))
            continue
        periods = channel.findall("period")
        if len(periods) > MAX_PERIODS_PER_CHANNEL:
            result.status = max(result.status, ReceiptStatus.FORMAT_ERROR)
            result.problems.append(Problem(where, "too_many_periods", f"{len(periods)} periods in one day"))
            continue
        for period in periods:
            try:
                start = _clock(period.get("start", ""), result.day)
                end = _clock(period.get("end", ""), result.day)
            except ValueError:
                result.problems.append(Problem(where, "invalid_period", f"period {period.attrib} is not hhmm–hhmm"))
                continue
            if end <= start:  # "2330–0000": midnight at the end of the day
                end += timedelta(days=1)
            value_element = period.find("value")
            status = (value_element.get("status", "0") if value_element is not None else "0").strip() or "0"
            commercial = status == "0"
            raw = _text(value_element)
            value = None
            if raw is not None:
                try:
                    value = Decimal(raw.replace(",", "."))
                except InvalidOperation:
                    result.problems.append(Problem(f"{where} {start:%H%M}", "invalid_value", f"value {raw!r}"))
                    continue
                if not value.is_finite():  # a writer's placeholder, not a damaged cell: the file is not 80020
                    result.refuse(ReceiptStatus.FORMAT_ERROR, Problem(f"{where} {start:%H%M}", "non_finite_value",
                                                                      f"value {raw[:20]!r} is not a finite number"))
                    continue
            if value is None and commercial:
                result.problems.append(Problem(f"{where} {start:%H%M}", "missing_value",
                                               "a commercial interval without a value"))
                continue
            if value is not None and value < 0:
                result.problems.append(Problem(f"{where} {start:%H%M}", "negative_value", f"value {raw!r}"))
                continue
            result.intervals.append(Interval(code, name, channel_code, start, end, value, commercial))


def receipt(file_name: str, status: int, received_at: datetime) -> bytes:
    """The 80021 answer to one 80020 file: which file, when, and its status code."""
    lines = [
        '<?xml version="1.0" encoding="windows-1251"?>',
        '<message class="80021" version="1">',
        f"  <file><name>{_escape(file_name)}</name><date>{received_at:%Y%m%d%H%M%S}</date></file>",
        f'  <reply status="{status}"/>',
        "</message>",
    ]
    return ("\n".join(lines) + "\n").encode("cp1251", errors="replace")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
