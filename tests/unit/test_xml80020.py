"""Proves the 80020 reader on a composed day file in windows-1251 (half-hours, a non-commercial
interval, the midnight period, an unknown channel, a bad value) and its 80021 receipt, and that
hostile or foreign XML, an unknown encoding and a NaN or Infinity value make the whole file malformed
with the right receipt status, while a damaged value is a problem of its interval only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from services.metering.readings.xml80020 import ReceiptStatus, parse, receipt

DAY_FILE = """<?xml version="1.0" encoding="windows-1251"?>
<message class="80020" version="2" number="17">
  <datetime><timestamp>20220202013000</timestamp><daylightsavingtime>0</daylightsavingtime><day>20220201</day></datetime>
  <sender><inn>090840008604</inn><name>ТОО «Текелийский энергокомплекс»</name></sender>
  <area><inn>110740003844</inn><name>ТОО «Т-Транзит»</name>
    <measuringpoint code="01214368" name="ВЛ-110кВ № 154 ТТЭЦ">
      <measuringchannel code="01" desc="акт. прием">
        <period start="0000" end="0030"><value status="0">412</value></period>
        <period start="0030" end="0100"><value>398,5</value></period>
        <period start="2330" end="0000"><value status="1"></value></period>
      </measuringchannel>
      <measuringchannel code="07" desc="?">
        <period start="0000" end="0030"><value>1</value></period>
      </measuringchannel>
      <measuringchannel code="03" desc="реак. прием">
        <period start="0000" end="0030"><value>x</value></period>
      </measuringchannel>
    </measuringpoint>
  </area>
</message>
"""


def test_reads_the_day_file():
    parsed = parse(DAY_FILE.encode("cp1251"))
    assert (parsed.number, parsed.day.isoformat(), parsed.sender_inn) == ("17", "2022-02-01", "090840008604")
    assert [(i.start.strftime("%H%M"), i.end.strftime("%d %H%M"), i.value, i.commercial)
            for i in parsed.intervals] == [
        ("0000", "01 0030", Decimal("412"), True),
        ("0030", "01 0100", Decimal("398.5"), True),
        ("2330", "02 0000", None, False),  # "end 0000" is midnight at the end of the day
    ]
    assert [(p.reason, p.where) for p in parsed.problems] == [
        ("unknown_channel", "point 01214368 channel 07"), ("invalid_value", "point 01214368 channel 03 0000")]
    assert parsed.status == ReceiptStatus.UNKNOWN_CHANNELS


def test_the_receipt_names_the_file_and_the_status():
    parsed = parse(DAY_FILE.replace('<measuringchannel code="07"', '<measuringchannel code="02"').encode("cp1251"))
    answer = receipt("80020_090840008604_20220201_17.xml", parsed.status, datetime(2022, 2, 2, 6, 0))
    text = answer.decode("cp1251")
    assert "<name>80020_090840008604_20220201_17.xml</name>" in text
    assert "<date>20220202060000</date>" in text
    assert '<reply status="1"/>' in text  # accepted, with a non-commercial interval


def test_hostile_and_foreign_xml_is_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><message>&b;</message>'
    assert parse(bomb).status == ReceiptStatus.NOT_XML
    assert parse(b"not xml at all").status == ReceiptStatus.NOT_XML
    foreign = parse(b'<message class="51070"><datetime><day>20220201</day></datetime></message>')
    assert (foreign.status, foreign.problems[0].reason) == (ReceiptStatus.FORMAT_ERROR, "not_80020")
    assert foreign.malformed is not None and parse(bomb).malformed is not None
    unknown = parse(DAY_FILE.replace("windows-1251", "x-no-such-encoding").encode("cp1251"))
    assert (unknown.status, unknown.malformed and unknown.malformed.reason) == (ReceiptStatus.NOT_XML,
                                                                                 "unreadable_encoding")


def test_a_non_finite_value_makes_the_file_malformed_and_a_damaged_one_does_not():
    assert parse(DAY_FILE.encode("cp1251")).malformed is None  # its "x" is a problem of one interval
    for value in ("NaN", "-Infinity", "sNaN"):
        parsed = parse(DAY_FILE.replace("398,5", value).encode("cp1251"))
        assert (parsed.status, parsed.malformed and parsed.malformed.reason) == (ReceiptStatus.FORMAT_ERROR,
                                                                                  "non_finite_value"), value
