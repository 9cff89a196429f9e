"""Every message the back office shows has its Russian text, and the figures read as a Kazakh clerk reads
them: money `470 456,00 ₸` (no-break spaces), dates `dd.mm.yyyy`, moments in the contract's zone with the
zone's offset shown."""

from __future__ import annotations

from datetime import UTC, datetime

from devtools.catalogue import untranslated
from services.backoffice import formats
from services.backoffice.i18n import gettext, reason_text


def test_every_message_of_the_templates_and_code_is_translated():
    assert untranslated("ru") == []


def test_money_dates_and_moments_in_russian_forms():
    assert formats.money({"amount": "470456.00", "currency": "KZT"}) == "470\u00a0456,00\u00a0₸"
    assert formats.money("-1234567.5") == "-1\u00a0234\u00a0567,50\u00a0₸"
    assert formats.day("2026-12-07") == "07.12.2026"
    # 05:01 UTC is 10:01 in Astana (UTC+5 since 2024-03-01), shown with its offset
    assert formats.moment(datetime(2026, 12, 7, 5, 1, tzinfo=UTC)) == "07.12.2026 10:01 (UTC+05:00)"
    # a contract in UTC+1 (the seed contract's Etc/GMT-1) shows its own hour
    assert formats.moment("2022-01-01T00:00:00+01:00", "Etc/GMT-1") == "01.01.2022 00:00 (UTC+01:00)"


def test_a_known_reason_reads_in_russian_and_an_unknown_one_keeps_the_services_words():
    assert gettext("Sign in") == "Войти"
    assert reason_text("deadline_passed_use_correction", "the deadline passed").startswith("Заявка на следующие сутки")
    assert reason_text("a_reason_nobody_translated", "the service's own words") == "the service's own words"
