"""Proves the common library and every service's domain rules type-check: `mypy --strict` with pydantic's
plugin, run with no arguments, checks the files pyproject.toml `[tool.mypy]` names (`shared/` and the four
`services/*/domain/` packages, each named there) and finds no error. And that the check can fail: the same
configuration refuses a file with a wrong return type and a function without annotations (the second only
because the configuration is strict).

mypy keeps its cache in the project's `.mypy_cache` (ignored by git): a run after the first rechecks only what
changed, a second or so instead of twenty."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MYPY = Path(sys.executable).with_name("mypy")
CONFIG = ROOT / "pyproject.toml"


def mypy(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MYPY), *arguments], cwd=ROOT, capture_output=True, text=True, timeout=600)


DOMAIN_PACKAGES = sorted(path.parent.relative_to(ROOT).as_posix() for path in ROOT.glob("services/*/domain/__init__.py"))


def test_the_configuration_checks_shared_and_every_domain_package():
    with CONFIG.open("rb") as config:
        files = tomllib.load(config)["tool"]["mypy"]["files"]
    assert len(DOMAIN_PACKAGES) == 4, DOMAIN_PACKAGES   # contracts, metering, invoicing, claims
    assert sorted(files) == sorted(["shared", *DOMAIN_PACKAGES]), files


def test_shared_and_the_domain_packages_pass_the_strict_check():
    result = mypy()   # no arguments: the configured files
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout + result.stderr


def test_the_check_refuses_a_type_error(tmp_path):
    ill_typed = tmp_path / "ill_typed.py"
    ill_typed.write_text(
        "from decimal import Decimal\n"
        "\n"
        "\n"
        "def minor_units(amount: Decimal) -> int:\n"
        "    return amount.scaleb(2)  # a Decimal where an int is declared\n"
        "\n"
        "\n"
        "def unannotated(value):  # refused by --strict only\n"
        "    return value\n",
        encoding="utf-8",
    )
    result = mypy("--config-file", str(CONFIG), str(ill_typed))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert 'ill_typed.py:5: error: Incompatible return value type (got "Decimal", expected "int")' in output, output
    assert "ill_typed.py:8: error: Function is missing a type annotation  [no-untyped-def]" in output, output
    assert "Found 2 errors in 1 file" in output, output
