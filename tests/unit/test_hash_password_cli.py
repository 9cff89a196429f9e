"""Proves `ledger hash-password`: it asks for the password twice without showing it, prints on stdout only an
argon2id hash that verifies the password and that the back office takes as a person's `password_hash`, the
back office signs the person in with it, and a password too short, too long to type into the sign-in form,
or not confirmed is refused with nothing printed."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from typer.testing import CliRunner

from ledger_cli.main import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, app
from services.backoffice.people import Directory
from services.backoffice.settings import PersonEntry

PASSWORD = "correct horse battery staple"   # 28 characters


def _run(*typed: str):
    return CliRunner().invoke(app, ["hash-password"], input="".join(f"{line}\n" for line in typed))


def test_prints_the_argon2id_hash_of_the_password_and_nothing_else():
    result = _run(PASSWORD, PASSWORD)
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip()
    assert "\n" not in printed and printed.startswith("$argon2id$")
    assert PasswordHasher().verify(printed, PASSWORD)
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(printed, PASSWORD + "!")
    # hidden prompts: the password is not echoed anywhere
    assert PASSWORD not in result.output and PASSWORD not in result.stderr
    assert "password" in result.stderr.lower() and "repeat" in result.stderr.lower()


def test_as_a_process_stdout_carries_the_hash_alone():
    """What an operator pipes (`ledger hash-password > hash`): one line, the hash; prompts go elsewhere."""
    ledger = Path(sys.executable).with_name("ledger")
    result = subprocess.run([str(ledger), "hash-password"], input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1
    assert PasswordHasher().verify(result.stdout.strip(), PASSWORD)
    assert PASSWORD not in result.stderr


def test_each_run_salts_anew():
    first, second = _run(PASSWORD, PASSWORD), _run(PASSWORD, PASSWORD)
    assert first.stdout.strip() != second.stdout.strip()


def test_the_back_office_signs_the_person_in_with_the_printed_hash():
    printed = _run(PASSWORD, PASSWORD).stdout.strip()
    entry = PersonEntry(name="a.seitkali", display_name="Айгерим Сейткали", password_hash=printed, roles=["treasury"])
    directory = Directory([entry], lockout_failures=5, lockout_minutes=15)
    person = directory.sign_in("a.seitkali", PASSWORD, datetime(2026, 12, 7, 5, 1, tzinfo=UTC))
    assert person.name == "a.seitkali" and person.works_at("treasury")


@pytest.mark.parametrize("password", ["x" * (MIN_PASSWORD_CHARS - 1), "x" * (MAX_PASSWORD_CHARS + 1)],
                         ids=["too short", "longer than the sign-in form takes"])
def test_a_password_out_of_bounds_is_refused(password):
    result = _run(password, password)
    assert result.exit_code == 2
    assert result.stdout.strip() == ""   # the test runner echoes the hidden prompts' line ends there
    assert f"{MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters" in result.stderr


def test_a_password_typed_differently_the_second_time_is_not_hashed():
    result = _run(PASSWORD, PASSWORD + "?")   # then the input ends: the prompt gives up
    assert result.exit_code != 0
    assert "$argon2" not in result.stdout
    assert "do not match" in result.stderr
