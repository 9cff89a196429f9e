"""Reading bank statements into receipts: the 1C "ClientBankExchange" text of Kazakh banks, and CSV.

Lenient where banks differ (encodings, key case, quotes, missing `КонецФайла`, `,` decimals) and
strict where money is concerned: a document without a readable amount, date or payer, in a currency
the ledger does not settle in or beyond its range is reported with its reason and never posted, and
the other lines go on. A file that cannot be read as its format at all (not 1C, no CSV header, a field
beyond `MAX_FIELD_CHARS`, more than `MAX_LINES` lines) is refused whole (`MalformedFile`).
References: `references.py`. Pure: bytes in, receipts and problems out.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from services.invoicing.bank.references import (
    MAX_GIVEN_CHARS,
    DocumentFields,
    document_reference,
    identity_digest,
    legacy_reference,
    qualified,
)
from shared.errors import MalformedFile, ValidationFailed
from shared.money import Money
from shared.text import MAX_FIELD_CHARS, control_character_in

MAX_LINES = 1_000_000  # a statement larger than this is an export mistake, not a day's receipts


@dataclass(frozen=True)
class Receipt:
    """One incoming payment read from a statement."""

    line: int                 # where it starts in the file (1-based), for the report
    bank_reference: str       # stable: the same document in another file gets the same reference
    received_on: date
    amount: Decimal
    currency: str
    payer_name: str
    payer_bin: str | None
    payer_iban: str | None
    purpose: str
    contract_number: str | None = None
    # the key an older ledger gave the same operation: a 1C document's before references were digests, a
    # CSV line's before its bank was named (the bare reference)
    legacy_reference: str | None = None


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str
    message: str


@dataclass
class ParsedStatement:
    format: str
    encoding: str
    account: str | None = None
    receipts: list[Receipt] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped_outgoing: int = 0
    # 1C documents seen so far per identity (`references.identity_digest`): the next one's ordinal
    seen: Counter = field(default_factory=Counter, repr=False)


def decode(raw: bytes) -> tuple[str, str]:
    """BOM or valid UTF-8 → UTF-8; otherwise CP1251; a `Кодировка=DOS` header → CP866."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = raw.decode("cp1251", errors="replace")
    # the header key is Cyrillic too: look for `Кодировка=DOS` as a DOS file would spell it
    for line in raw.decode("cp866", errors="replace").splitlines()[:20]:
        key, _, value = line.partition("=")
        if key.strip().lower() == "кодировка" and _unquote(value).upper() == "DOS":
            return raw.decode("cp866", errors="replace"), "cp866"
    return text, "cp1251"


def _unquote(value: str) -> str:
    """Trim, and drop one pair of surrounding quotes (`"Выписка"`), keeping quotes inside names."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].strip()
    return value


def _amount(text: str) -> Decimal:
    value = Decimal(text.strip().replace(" ", "").replace(",", "."))
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise InvalidOperation
    return value.quantize(Decimal("0.01"))


def _date(text: str) -> date:
    return datetime.strptime(text.strip(), "%d.%m.%Y").date()


def _money_problem(amount: Decimal, currency: str) -> tuple[str, str] | None:
    """(reason, message) when the ledger cannot hold this money: an unknown currency, an amount out of range."""
    try:
        Money(amount, currency)
    except ValidationFailed as exc:
        return exc.reason, exc.message
    return None


def _too_long(line: int) -> MalformedFile:
    return MalformedFile(f"line {line} holds a field longer than {MAX_FIELD_CHARS} characters",
                         reason="field_too_large", details={"line": line, "max_chars": MAX_FIELD_CHARS})


def _too_many_lines() -> MalformedFile:
    return MalformedFile(f"the statement has more than {MAX_LINES} lines", reason="file_too_large",
                         details={"max_lines": MAX_LINES})


# the keys of the format's header and sections (the 1C exchange standard): all Cyrillic, so a file in an
# encoding the reader does not know (KOI8-R, CP866 without `Кодировка=DOS`) reads as none of them
FORMAT_KEYS = frozenset(("версияформата", "кодировка", "отправитель", "получатель", "датасоздания", "времясоздания",
                         "датаначала", "датаконца", "расчсчет", "документ", "секциярасчсчет", "конецрасчсчет",
                         "секциядокумент", "конецдокумента", "конецфайла"))


def _unrecognised(encoding: str) -> MalformedFile:
    return MalformedFile(
        f"no line after the first reads as a key of the 1C format in {encoding}: the file is in an encoding the "
        "reader does not recognise (it reads UTF-8, CP1251, and CP866 when the header says Кодировка=DOS)",
        reason="unrecognised_statement", details={"encoding_tried": encoding})


def parse_1c(raw: bytes) -> ParsedStatement:
    """Refused whole (`MalformedFile`) when it is no 1C statement: a first line that is not `1CClientBankExchange`,
    no key of the format after it (`unrecognised_statement`: an encoding not recognised), a field or the file
    beyond its bound."""
    text, encoding = decode(raw)
    lines = text.splitlines()
    result = ParsedStatement(format="1c", encoding=encoding)
    if not lines or lines[0].strip().lstrip("\ufeff") != "1CClientBankExchange":
        raise MalformedFile("not a 1C statement: the first line must be 1CClientBankExchange",
                            reason="not_1c_exchange", details={"encoding": encoding})
    if len(lines) > MAX_LINES:
        raise _too_many_lines()
    document: dict[str, str] | None = None
    started = 0
    recognised = False
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_FIELD_CHARS:
            raise _too_long(number)
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        value = _unquote(value)
        recognised = recognised or key in FORMAT_KEYS
        if not sep:
            if key == "конецдокумента" and document is not None:
                _document(result, document, started)
                document = None
            continue
        if key == "секциядокумент":
            document, started = {}, number
        elif document is not None:
            document[key] = value
        elif key == "расчсчет" and result.account is None:
            result.account = value
    if not recognised:
        raise _unrecognised(encoding)
    if document is not None:
        result.problems.append(Problem(started, "unterminated_document", "the document has no КонецДокумента"))
    return result


def _document(result: ParsedStatement, doc: dict[str, str], line: int) -> None:
    incoming = doc.get("суммаприход")
    outgoing = doc.get("суммарасход")
    if incoming is None and outgoing is None:
        # no statement keys: the direction comes from whose account is ours
        if result.account and doc.get("плательщикиик") == result.account:
            outgoing = doc.get("сумма")
        else:
            incoming = doc.get("сумма")
    if incoming is None or (outgoing and not incoming):
        result.skipped_outgoing += 1
        return
    try:
        amount = _amount(incoming)
    except (InvalidOperation, ValueError):
        result.problems.append(Problem(line, "invalid_amount", f"amount {incoming!r} is not a number of tiyn"))
        return
    if amount <= 0:
        result.problems.append(Problem(line, "non_positive_amount", f"amount {incoming!r} is not positive"))
        return
    raw_date = doc.get("датаоперации") or doc.get("датапоступило") or doc.get("датадокумента")
    try:
        received_on = _date(raw_date or "")
    except ValueError:
        result.problems.append(Problem(line, "invalid_date", f"date {raw_date!r} is not ДД.ММ.ГГГГ"))
        return
    payer_bin = doc.get("плательщикбин_иин") or doc.get("плательщикинн") or None
    payer_iban = doc.get("плательщикиик") or doc.get("плательщиксчет") or None
    if not payer_bin and not payer_iban:
        result.problems.append(Problem(line, "missing_payer", "neither the payer's BIN nor IBAN is given"))
        return
    currency = (doc.get("валюта") or "KZT").upper()
    refused = _money_problem(amount, currency)
    if refused:
        result.problems.append(Problem(line, *refused))
        return
    fields = DocumentFields(account=result.account, payer_bin=payer_bin, payer_iban=payer_iban,
                            number=doc.get("номердокумента") or doc.get("номер") or "", received_on=received_on,
                            amount=amount, currency=currency, purpose=doc.get("назначениеплатежа", ""))
    identity = identity_digest(fields)
    result.seen[identity] += 1
    ordinal = result.seen[identity]
    _receive(result, Receipt(
        line=line, bank_reference=document_reference(fields, ordinal), received_on=received_on, amount=amount,
        currency=currency, payer_name=doc.get("плательщикнаименование", ""), payer_bin=payer_bin,
        payer_iban=payer_iban, purpose=fields.purpose, legacy_reference=legacy_reference(fields, ordinal)))


def _receive(result: ParsedStatement, receipt: Receipt) -> None:
    """A receipt whose text holds a control character is a damaged line, not a payment to record
    (shared/text.py: history cannot hold U+0000)."""
    found = control_character_in(vars(receipt))
    if found:
        result.problems.append(Problem(receipt.line, "control_character", f"{found} holds a control character"))
    else:
        result.receipts.append(receipt)


CSV_COLUMNS = ("bank_reference", "received_on", "amount", "currency", "payer_bin", "payer_iban", "purpose")


def parse_csv(raw: bytes, bank: str | None = None) -> ParsedStatement:
    """Columns: bank_reference, received_on (YYYY-MM-DD), amount, currency, payer_bin, payer_iban, purpose
    and optionally contract_number. `bank`: the BIC (or account) of the bank whose references these are."""
    text, encoding = decode(raw)
    result = ParsedStatement(format="csv", encoding=encoding)
    reader = csv.DictReader(io.StringIO(text))
    try:
        _read_csv(result, reader, bank)
    except csv.Error as exc:
        # the reader cannot go on past a damaged line (a field beyond its limit): refused, not half read
        if "field larger than field limit" in str(exc):
            raise _too_long(reader.line_num + 1) from exc
        raise MalformedFile(f"line {reader.line_num + 1} is not CSV: {exc}", reason="malformed_csv",
                            details={"line": reader.line_num + 1}) from exc
    return result


def _read_csv(result: ParsedStatement, reader: csv.DictReader, bank: str | None) -> None:
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise MalformedFile(f"the header lacks {', '.join(missing)}", reason="missing_columns",
                            details={"missing": missing})
    for number, row in enumerate(reader, start=2):
        if number > MAX_LINES:
            raise _too_many_lines()
        try:
            amount = _amount(row["amount"] or "")
            received_on = date.fromisoformat((row["received_on"] or "").strip())
        except (InvalidOperation, ValueError):
            result.problems.append(Problem(number, "invalid_line", "amount or received_on is not readable"))
            continue
        if amount <= 0:
            result.problems.append(Problem(number, "non_positive_amount", f"amount {row['amount']!r} is not positive"))
            continue
        reference = (row["bank_reference"] or "").strip()
        if not reference:
            result.problems.append(Problem(number, "missing_bank_reference", "every line needs a bank reference"))
            continue
        if len(reference) > MAX_GIVEN_CHARS:
            result.problems.append(Problem(number, "invalid_bank_reference",
                                           f"a bank reference has at most {MAX_GIVEN_CHARS} characters"))
            continue
        currency = (row["currency"] or "KZT").strip().upper()
        refused = _money_problem(amount, currency)
        if refused:
            result.problems.append(Problem(number, *refused))
            continue
        _receive(result, Receipt(
            line=number, bank_reference=qualified(bank, reference), received_on=received_on, amount=amount,
            currency=currency, payer_name="",
            payer_bin=(row["payer_bin"] or "").strip() or None, payer_iban=(row["payer_iban"] or "").strip() or None,
            purpose=(row["purpose"] or "").strip(), contract_number=(row.get("contract_number") or "").strip() or None,
            legacy_reference=reference if bank else None))
    return result


@dataclass(frozen=True)
class Candidate:
    contract_id: str
    number: str
    buyer_bin: str | None
    buyer_iban: str | None


# characters that join the parts of a contract number ("01/2021-85", "12.3"): a number goes on across one of
# them only when a letter or digit follows it, so a sentence's full stop ends the number it follows
JOINERS = frozenset("/\\-_.")


def cites_number(purpose: str, number: str) -> bool:
    """Whether `purpose` names contract `number` whole: bounded by characters that are not part of a number, so
    "по дог. №01/2021-851" cites 01/2021-851 and not 01/2021-85 (and "дог.01/2021-85." cites 01/2021-85)."""
    start = purpose.find(number)
    while start != -1:
        end = start + len(number)
        before = purpose[start - 1] if start else ""
        after = purpose[end] if end < len(purpose) else ""
        continued_before = before.isalnum() or (before in JOINERS and before != "." and start > 1
                                                and purpose[start - 2].isalnum())
        continued_after = after.isalnum() or (after in JOINERS and end + 1 < len(purpose)
                                              and purpose[end + 1].isalnum())
        if not continued_before and not continued_after:
            return True
        start = purpose.find(number, start + 1)
    return False


def match_contract(receipt: Receipt, candidates: list[Candidate]) -> tuple[str | None, str]:
    """(contract id or None, how): by the payer's BIN/IBAN, narrowed by the contract number cited whole in the
    purpose. Never a guess: a payer of several contracts whose purpose cites none of them whole, or more than
    one, leaves the receipt unidentified (`ambiguous`)."""
    if receipt.contract_number:
        named = [c for c in candidates if c.number == receipt.contract_number]
        if len(named) == 1:
            return named[0].contract_id, "contract_number"
    payers = [c for c in candidates if (receipt.payer_bin and c.buyer_bin == receipt.payer_bin)
              or (receipt.payer_iban and c.buyer_iban == receipt.payer_iban)]
    cited = [c for c in payers if c.number and cites_number(receipt.purpose, c.number)]
    if len(cited) == 1:
        return cited[0].contract_id, "payer_and_number_in_purpose"
    if len(payers) == 1 and not cited:
        return payers[0].contract_id, "payer_only"
    return None, "ambiguous" if payers else "unknown_payer"
