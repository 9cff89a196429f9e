"""Bank references: the one key under which the ledger knows a bank operation, whether it is posted to
an account (`payments`) or held in suspense (`unidentified_receipts`).

- A reference is unique per bank. A reference the bank gives (CSV, `POST /payments`) is qualified by
  the bank's identity when it is named (`<BIC or account>:<reference>`); a 1C document's reference is
  derived from its fields, the statement's account (which names the bank) among them.
- A derived reference is a digest (`1c:` + 32 hex digits of SHA-256), so no BIN or IBAN travels in
  clear into events, URLs, logs or traces.
- A 1C document without a number adds its purpose and its ordinal among the documents of the file that
  are identical in every identifying field: two genuine payments of one payer, day and amount in one
  statement are two operations, and the same statement imported again gives the same references.
- The same reference with another contract, amount or value date is a conflict, never a repeat.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.errors import Conflict

DERIVED_1C = "1c:"
DIGEST_HEX = 32  # 128 bits: no two documents of any plausible history share one
BANK_PATTERN = r"^[A-Z0-9]{8,34}$"  # a BIC (8 or 11) or an account (IBAN, up to 34)
MAX_GIVEN_CHARS = 100  # a reference as a bank gives it (the API's bound too)


def qualified(bank: str | None, reference: str) -> str:
    """The key of a reference the bank gave: `<bank>:<reference>` when the bank is named."""
    return f"{bank}:{reference}" if bank else reference


@dataclass(frozen=True)
class DocumentFields:
    """What identifies one 1C document of a statement."""

    account: str | None        # the statement's account (РасчСчет): the bank and the account at it
    payer_bin: str | None
    payer_iban: str | None
    number: str                # "" when the document has none
    received_on: date
    amount: Decimal
    currency: str
    purpose: str

    def identity(self) -> list[str]:
        fields = [self.account or "", self.payer_bin or "", self.payer_iban or "", self.number,
                  self.received_on.isoformat(), str(self.amount), self.currency]
        # without a number the purpose tells documents apart where it can; the ordinal does the rest
        return fields if self.number else [*fields, self.purpose]


def identity_digest(fields: DocumentFields) -> str:
    """What documents identical in every identifying field share (their ordinal tells them apart)."""
    return hashlib.sha256(json.dumps(fields.identity(), ensure_ascii=False).encode()).hexdigest()


def document_reference(fields: DocumentFields, ordinal: int) -> str:
    """The reference of a 1C document: `ordinal` (1, 2, …) counts the documents of the statement identical
    to it in every identifying field, in file order; a numbered document is its own identity (ordinal 1)."""
    assert ordinal >= 1
    identity = fields.identity() if fields.number else [*fields.identity(), str(ordinal)]
    return DERIVED_1C + hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode()).hexdigest()[:DIGEST_HEX]


def legacy_reference(fields: DocumentFields, ordinal: int) -> str | None:
    """The reference a 1C document had before references were digests (payer, number, day and amount in
    clear): a statement imported then is still known. A document without a number had one reference for
    all its identical twins, so only the first of them can be the one recorded under it."""
    if not fields.number and ordinal > 1:
        return None
    payer = fields.payer_bin or fields.payer_iban
    return f"1c:{payer}:{fields.number}:{fields.received_on.isoformat()}:{fields.amount}"


@dataclass(frozen=True)
class KnownOperation:
    """A bank operation the ledger holds under a reference: posted to an account, or in suspense."""

    bank_reference: str
    contract_id: str | None    # the account it is posted (or assigned) to; None while in suspense
    amount: Decimal
    currency: str
    received_on: date
    in_suspense: bool          # recorded as unidentified and not yet assigned


def differences(known: KnownOperation, *, contract_id: str | None, amount: Decimal, currency: str,
                received_on: date) -> list[str]:
    """What the operation given differs in from the one known under its reference. A contract is compared
    only when both name one: a receipt in suspense belongs to no contract yet."""
    differ = []
    if contract_id is not None and known.contract_id is not None and contract_id != known.contract_id:
        differ.append("contract_id")
    if amount != known.amount or currency != known.currency:
        differ.append("amount")
    if received_on != known.received_on:
        differ.append("received_on")
    return differ


class ReferenceConflict(Conflict):
    """The reference is known with another contract, amount or value date: neither a repeat nor new."""

    default_reason = "reference_conflict"

    def __init__(self, bank_reference: str, differ: list[str]):
        super().__init__(f"bank reference {bank_reference} is known with another {', '.join(differ)}; nothing was "
                         f"recorded", details={"bank_reference": bank_reference, "differs": differ})


class ReferenceInSuspense(Conflict):
    """The operation is held as unidentified: it is posted by assigning it, not by posting it again."""

    default_reason = "reference_in_suspense"

    def __init__(self, bank_reference: str):
        super().__init__(f"bank reference {bank_reference} is held as an unidentified receipt; assign it with "
                         f"POST /receipts/{{bank_reference}}/assign", details={"bank_reference": bank_reference})
