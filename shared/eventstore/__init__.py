"""The append-only, hash-chained event store each service keeps in its own database."""

from shared.eventstore.store import Append, CommandContext, EventStore, StoredEvent
from shared.eventstore.verify import ChainReport, verify_chain

__all__ = ["Append", "CommandContext", "EventStore", "StoredEvent", "ChainReport", "verify_chain"]
