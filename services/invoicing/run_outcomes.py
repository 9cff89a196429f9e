"""What a run over many accounts reports per account, and how it cuts the accounts into transactions.

A run (the prepayment run, the day close, the execution of a collection run) decides each account alone and
records `ACCOUNTS_PER_TRANSACTION` accounts to a transaction (`shared.commands.execute_many`): the store is one
writer, so throughput comes from many accounts per commit, and a transaction of a few hundred accounts stays
short (its lock held for a fraction of a second) and small (about a thousand events per append call).

Two such transactions are in flight at once (`executed_in_chunks`): while PostgreSQL appends, projects and commits
one chunk, this process decides the next. Not more: the store takes one writer at a time, so a third would only
queue for the append lock. A run stopped midway (a chunk failed) is finished by running it again, as before: a
chunk that committed records nothing the second time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

from services.invoicing.commands import AccountOutcome
from shared.commands import CommandRunner, DecidedMany, Streams, execute_many
from shared.eventstore import CommandContext
from shared.together import all_finished

S = TypeVar("S")
T = TypeVar("T")
ACCOUNTS_PER_TRANSACTION = 250
CHUNKS_IN_FLIGHT = 2


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


async def executed_in_chunks(runner: CommandRunner, streams: Streams[S], keys: Sequence[str],
                             decide: Callable[[str, S | None], Sequence[object]], context: CommandContext,
                             occurred_at: datetime) -> AsyncIterator[tuple[list[str], DecidedMany[S]]]:
    """Each chunk of `keys` and what its transaction decided, in the keys' order, `CHUNKS_IN_FLIGHT` chunks at
    once; a chunk that failed raises once the chunks beside it finished."""
    parts = list(chunks(keys, ACCOUNTS_PER_TRANSACTION))
    for start in range(0, len(parts), CHUNKS_IN_FLIGHT):
        together = parts[start:start + CHUNKS_IN_FLIGHT]
        decided = await all_finished(execute_many(runner, streams, part, decide, context, occurred_at)
                                     for part in together)
        for part, each in zip(together, decided, strict=True):
            yield part, each


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
