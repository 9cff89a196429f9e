"""The chain's head anchored outside the database (architecture MUST 12): signed checkpoints of each
service's hash chain (`checkpoint`), kept in an append-only store (`directory`), written by one replica
of the service (`anchorer`) and checked by `ledger verify` (`trail`). docs/security.md says how to run it.
"""
