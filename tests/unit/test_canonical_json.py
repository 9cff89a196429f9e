"""Proves the canonical bytes of an event (what is hashed and published) are exactly the stdlib's sorted,
compact, UTF-8 JSON for any JSON value — control characters, non-ASCII text and nesting included — so
bodies written before the faster encoder keep their hashes; an integer past 64 bits still encodes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.envelope import canonical_json

TEXT = st.text(st.characters(blacklist_categories=("Cs",)))  # a lone surrogate is not UTF-8 at all
LEAF = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TEXT
JSON = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=30)


def stdlib(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@settings(max_examples=2_000)
@given(JSON)
def test_canonical_bytes_equal_the_stdlib_spelling(value):
    assert canonical_json(value) == stdlib(value)


def test_the_spelling_of_a_payment():
    # written out by hand: keys sorted ("amount" < "payer" < "purpose"), no spaces, Cyrillic as UTF-8,
    # a tab and a line feed escaped the short way
    value = {"purpose": "Оплата\tпо договору\n", "amount": {"currency": "KZT", "amount": "1000.00"}, "payer": None}
    expected = '{"amount":{"amount":"1000.00","currency":"KZT"},"payer":null,"purpose":"Оплата\\tпо договору\\n"}'
    assert canonical_json(value) == expected.encode("utf-8")


def test_an_integer_past_64_bits_takes_the_stdlib_path():
    assert canonical_json({"n": 2**70}) == b'{"n":1180591620717411303424}'
