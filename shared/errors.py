"""Typed errors that carry a machine-readable reason.

The HTTP edge turns each into a 4xx with `{"reason": ..., "message": ..., "details": ...}`; the
Kafka edge puts the reason into the dead-letter headers. Domain code raises these and nothing else
for bad input, so an operator can always tell *why* something was refused.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every refusal the business rules can give."""

    http_status: int = 422
    default_reason: str = "domain_rule_violated"
    headers: dict[str, str] = {}   # HTTP headers of the answer (WWW-Authenticate, Retry-After)
    # seconds after which the same request may succeed (the answer's `Retry-After`); None: it will not
    retry_after_s: int | None = None

    def __init__(self, message: str, *, reason: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.details = details or {}

    def to_body(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, "details": self.details}


class ValidationFailed(DomainError):
    """Input that can never be right (a bad BIN check digit, a negative volume)."""

    http_status = 422
    default_reason = "invalid_input"


class Conflict(DomainError):
    """Input that is well-formed but clashes with what already happened (signing twice)."""

    http_status = 409
    default_reason = "conflict"


class ConcurrencyConflict(Conflict):
    """Another command appended to the same stream first; the caller may retry on fresh state."""

    default_reason = "concurrency_conflict"
    retry_after_s = 1


class MalformedFile(ValidationFailed):
    """A file that cannot be read as its format at all (not the format, a field beyond every bound, a
    value no writer of the format may produce, bytes in no known encoding): refused whole, nothing of
    it recorded. A file that reads but has bad lines is not malformed: each line gets its own outcome."""

    default_reason = "malformed_file"


class NotFound(DomainError):
    http_status = 404
    default_reason = "not_found"


class CurrencyMismatch(ValidationFailed):
    default_reason = "currency_mismatch"


class Unavailable(DomainError):
    """The service cannot take the command now (its queue is full): nothing was recorded, and the same
    command may pass after `retry_after_s` (the answer's Retry-After)."""

    http_status = 503
    default_reason = "unavailable"
    retry_after_s = 1


class TooLarge(DomainError):
    """A request, or the event it would record, larger than the limit: refused, nothing recorded."""

    http_status = 413
    default_reason = "too_large"
