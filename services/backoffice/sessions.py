"""Server-side sessions: the cookie carries a random identifier, the server keeps who signed in, the CSRF
token of the session, and when it was last used. The store keeps only the SHA-256 of each identifier,
so a copy of the store's memory does not yield usable cookies.

Sessions live in the process (docs/decisions/0014-backoffice.md): the back office runs as one replica,
and a restart signs everyone out, which for a workplace of a few dozen people is a small cost."""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.backoffice.people import Person


@dataclass
class Session:
    person: Person
    csrf_token: str
    signed_in_at: datetime
    last_used_at: datetime


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, idle_minutes: int, max_hours: int, max_sessions: int) -> None:
        self._idle = timedelta(minutes=idle_minutes)
        self._max_age = timedelta(hours=max_hours)
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def open(self, person: Person, now: datetime) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(person, secrets.token_urlsafe(32), now, now)
        self._sessions[_key(session_id)] = session
        while len(self._sessions) > self._max_sessions:   # bounded: the least recently used go first
            self._sessions.popitem(last=False)
        return session_id, session

    def find(self, session_id: str | None, now: datetime) -> Session | None:
        if not session_id:
            return None
        key = _key(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        if now - session.last_used_at >= self._idle or now - session.signed_in_at >= self._max_age:
            del self._sessions[key]
            return None
        session.last_used_at = now
        self._sessions.move_to_end(key)
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(_key(session_id), None)
