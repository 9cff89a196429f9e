"""Who may sign in, and the lock-out after repeated failures.

Passwords are checked against argon2id hashes (argon2-cffi); a name that is not known costs the same hash
check as one that is, so the answer's timing does not tell which names exist. After `lockout_failures`
failures in a row a name is locked for `lockout_minutes`, whether or not it exists, so locking cannot be
used to find names either."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.backoffice.settings import PersonEntry

_hasher = PasswordHasher()
# a real hash of a random password: checked when the name is unknown, so both paths cost one argon2 check
_UNKNOWN = _hasher.hash("a name nobody has; this hash is never matched")
MAX_TRACKED_NAMES = 100_000   # bound on the failure table: names typed at the sign-in form, the oldest forgotten


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@dataclass(frozen=True)
class Person:
    name: str
    display_name: str
    roles: frozenset[str]

    def works_at(self, *desks: str) -> bool:
        return bool(self.roles.intersection(desks))


class SignInRefused(Exception):
    def __init__(self, reason: str, locked_until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason   # `wrong_credentials` or `locked_out`
        self.locked_until = locked_until


@dataclass
class _Failures:
    count: int = 0
    locked_until: datetime | None = None


class Directory:
    def __init__(self, entries: list[PersonEntry], lockout_failures: int, lockout_minutes: int) -> None:
        self._entries = {entry.name: entry for entry in entries}
        self._lockout_failures = lockout_failures
        self._lockout = timedelta(minutes=lockout_minutes)
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def sign_in(self, name: str, password: str, now: datetime) -> Person:
        failures = self._failures.get(name)
        if failures and failures.locked_until and now < failures.locked_until:
            raise SignInRefused("locked_out", failures.locked_until)
        entry = self._entries.get(name)
        if not self._password_matches(entry.password_hash if entry else _UNKNOWN, password) or entry is None:
            locked_until = self._count_failure(name, now)
            # the failure that locks the name says so at once, with until when
            raise SignInRefused("locked_out", locked_until) if locked_until else SignInRefused("wrong_credentials")
        self._failures.pop(name, None)
        return Person(entry.name, entry.display_name, frozenset(role.value for role in entry.roles))

    @staticmethod
    def _password_matches(stored: str, password: str) -> bool:
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _count_failure(self, name: str, now: datetime) -> datetime | None:
        failures = self._failures.pop(name, None) or _Failures()
        if failures.locked_until and now >= failures.locked_until:
            failures = _Failures()   # the lock ran out: counting starts again
        failures.count += 1
        if failures.count >= self._lockout_failures:
            failures.locked_until = now + self._lockout
        self._failures[name] = failures
        while len(self._failures) > MAX_TRACKED_NAMES:
            self._failures.popitem(last=False)
        return failures.locked_until
