"""What a run over many accounts reports per account, and how it cuts the accounts into transactions.

A run (the prepayment run, the day close, the execution of a collection run) decides each account alone and
records `ACCOUNTS_PER_TRANSACTION` accounts to a transaction (`shared.commands.execute_many`): the store is one
writer, so throughput comes from many accounts per commit, and a transaction of a few hundred accounts stays
short (its lock held for a fraction of a second) and small (about a thousand events per append call).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypeVar

from services.invoicing.commands import AccountOutcome
from shared.commands import DecidedMany

T = TypeVar("T")
ACCOUNTS_PER_TRANSACTION = 250


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def documents_of(events: list[Any]) -> list[str]:
    """The document numbers a run recorded (the events that carry one)."""
    return [event.document_number for event in events if getattr(event, "document_number", None)]


def run_outcomes(keys: list[str], decided: DecidedMany[Any], *, recorded: Literal["demanded"],
                 nothing: Literal["demanded_already"]) -> list[AccountOutcome]:
    """Each account's outcome in the order asked: `recorded` with its documents, `nothing` when the rule decided
    nothing new, or refused with the rule's reason (nothing recorded on it)."""
    outcomes = []
    for key in keys:
        error = decided.refused.get(key)
        if error is not None:
            outcomes.append(AccountOutcome(contract_id=key, outcome="refused", reason=error.reason,
                                           message=error.message))
            continue
        events = decided.recorded[key]
        outcomes.append(AccountOutcome(contract_id=key, outcome=recorded if events else nothing,
                                       documents=documents_of(events)))
    return outcomes
