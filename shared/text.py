"""Text that may enter history: no control characters in names, references and reasons.

PostgreSQL cannot hold U+0000 in `text` or `jsonb` at all: an event whose body carried one would be
stored (bodies are bytes) and then break every reader that casts the body to `jsonb` and every other
service whose read model keeps the field — one hostile request poisoning three databases. The other C0
controls are never what an operator meant (a pasted binary, a terminal escape), so they are refused at
the edge with the same clear error instead of being carried into documents. Tab, line feed and
carriage return stay allowed: reasons and addresses are written on several lines.
"""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import BaseModel, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# the same rule as a JSON-schema pattern, so the API documents say what they refuse
NO_CONTROL_CHARACTERS = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"
# the longest field a file we read may hold (a CSV cell, a 1C value): Python's csv module refuses longer
# ones by default, and no name, number or purpose of a statement or readings file comes near it
MAX_FIELD_CHARS = 128 * 1024
# a request body is a tree of a few hundred nodes at most; a deeper one is refused by its schema first
MAX_DEPTH = 32


def control_character_in(value: Any, where: str = "", depth: int = 0, checked: type | None = None) -> str | None:
    """The path of the first text inside `value` that holds a control character, or None; instances of
    `checked` are taken as already looked at."""
    assert depth <= MAX_DEPTH, "text nested deeper than any request or event"
    if checked is not None and isinstance(value, checked):
        return None
    if isinstance(value, str):
        control = _CONTROL.search(value)
        return f"{where or 'text'} (U+{ord(control.group()):04X} at {control.start()})" if control else None
    if isinstance(value, BaseModel):
        value = value.__dict__
    if isinstance(value, dict):
        for key, item in value.items():
            found = control_character_in(item, f"{where}.{key}" if where else str(key), depth + 1, checked)
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = control_character_in(item, f"{where}[{index}]", depth + 1, checked)
            if found:
                return found
    return None


class PlainText(BaseModel):
    """Base of every command's body (and of the contract terms it carries): a control character
    anywhere in it makes the request invalid (422 `invalid_request`), and nothing is recorded."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """The schema states the rule: every free string of the body carries the no-control-character pattern."""
        schema = handler(core_schema)
        for prop in handler.resolve_ref_schema(schema).get("properties", {}).values():
            _state_the_rule(prop)
        return schema

    @model_validator(mode="after")
    def _no_control_characters(self) -> Self:
        # a nested PlainText (a contract's parties, meters, prices) checked itself when it was built:
        # walking it again from every level above would read the same text once per level
        found = control_character_in(self.__dict__, checked=PlainText)
        if found:
            raise ValueError(f"{found} holds a control character; text may not contain them")
        return self


def _state_the_rule(schema: dict[str, Any], depth: int = 0) -> None:
    """Add the pattern to a string schema (and to the strings of a list, or of one side of an optional),
    unless it has a pattern or a format of its own already (a month, a date, a BIN)."""
    if depth > 4:
        return
    if schema.get("type") == "string" and "pattern" not in schema and "format" not in schema \
            and "enum" not in schema and "const" not in schema:
        schema["pattern"] = NO_CONTROL_CHARACTERS
    for part in (*schema.get("anyOf", ()), *([schema["items"]] if isinstance(schema.get("items"), dict) else [])):
        _state_the_rule(part, depth + 1)
