"""Who may sign in to the back office, decided without a browser: the right password signs in, a wrong one
or an unknown name is refused alike, the fifth failure in a row locks the name for the configured minutes
(an unknown name too, so locking tells nothing about which names exist), the lock runs out, sessions end
when idle or too old and hold only hashes of their identifiers, and production settings refuse a cookie
over plain HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.backoffice.people import Directory, SignInRefused, hash_password
from services.backoffice.sessions import SessionStore
from services.backoffice.settings import BackofficeSettings, PersonEntry

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
ENTRY = PersonEntry(name="aigul", display_name="Айгуль", password_hash=hash_password("correct horse"),
                    roles=["treasury"])


def refusal(directory: Directory, name: str, password: str, at: datetime) -> SignInRefused:
    with pytest.raises(SignInRefused) as refused:
        directory.sign_in(name, password, at)
    return refused.value


def test_the_right_password_signs_in_with_the_persons_desks():
    person = Directory([ENTRY], 5, 15).sign_in("aigul", "correct horse", NOW)
    assert (person.name, person.roles) == ("aigul", frozenset({"treasury"}))


def test_five_failures_lock_the_name_and_the_lock_runs_out():
    directory = Directory([ENTRY], lockout_failures=5, lockout_minutes=15)
    reasons = [refusal(directory, "aigul", f"wrong {n}", NOW).reason for n in range(5)]
    assert reasons == ["wrong_credentials"] * 4 + ["locked_out"]
    locked = refusal(directory, "aigul", "correct horse", NOW + timedelta(minutes=14, seconds=59))
    assert (locked.reason, locked.locked_until) == ("locked_out", NOW + timedelta(minutes=15))
    assert directory.sign_in("aigul", "correct horse", NOW + timedelta(minutes=15)).name == "aigul"


def test_an_unknown_name_is_refused_and_locked_like_a_known_one():
    directory = Directory([ENTRY], lockout_failures=2, lockout_minutes=15)
    assert refusal(directory, "nobody", "x", NOW).reason == "wrong_credentials"
    assert refusal(directory, "nobody", "x", NOW).reason == "locked_out"


def test_sessions_end_when_idle_or_too_old_and_keep_only_hashes():
    store = SessionStore(idle_minutes=30, max_hours=10, max_sessions=10)
    person = Directory([ENTRY], 5, 15).sign_in("aigul", "correct horse", NOW)
    session_id, _ = store.open(person, NOW)
    assert session_id not in store._sessions   # the store keys sessions by the identifier's SHA-256
    assert store.find(session_id, NOW + timedelta(minutes=29)) is not None
    assert store.find(session_id, NOW + timedelta(minutes=29 + 30)) is None    # idle 30 minutes
    kept_busy, _ = store.open(person, NOW)
    for minutes in range(20, 10 * 60, 20):   # used every 20 minutes, never idle
        assert store.find(kept_busy, NOW + timedelta(minutes=minutes)) is not None
    assert store.find(kept_busy, NOW + timedelta(hours=10)) is None             # ten hours after sign-in


def test_production_refuses_cookies_over_plain_http():
    with pytest.raises(ValidationError, match="SECURE_COOKIES"):
        BackofficeSettings(environment="production", signing_key="k", people=[ENTRY], secure_cookies=False)
    assert BackofficeSettings(environment="production", signing_key="k", people=[ENTRY], secure_cookies=True)
