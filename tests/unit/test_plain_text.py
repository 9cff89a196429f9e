"""Proves command bodies refuse a control character anywhere in their text (nested terms, lists of
reasons) and accept every other text, tab, line feed and carriage return included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.claims.commands import RejectClaim
from shared.text import control_character_in

CONTROLS = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]]
ALLOWED = st.text(st.characters(blacklist_characters=CONTROLS, blacklist_categories=("Cs",)), max_size=40)


@given(ALLOWED)
def test_text_without_controls_passes(value):
    assert control_character_in({"a": [value, {"b": value}]}) is None


@given(ALLOWED, st.sampled_from(CONTROLS), ALLOWED)
def test_a_control_anywhere_is_found_with_its_path(head, control, tail):
    found = control_character_in({"party": {"names": ["ok", head + control + tail]}})
    assert found == f"party.names[1] (U+{ord(control):04X} at {len(head)})"


def test_line_breaks_and_tabs_are_text():
    assert control_character_in("line one\r\n\tline two") is None


def test_a_command_with_a_nul_in_a_list_is_invalid():
    with pytest.raises(ValidationError, match=r"reasons\[1\] \(U\+0000 at 3\)"):
        RejectClaim.model_validate({"reasons": ["late", "bad\x00"], "answered_on": "2024-01-10"})
