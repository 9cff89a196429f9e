"""Proves the layers hold (pyproject.toml `[tool.importlinter]`, checked by import-linter on the real import
graph): domain rules import no database, web, broker or HTTP client; no service imports another; `shared`
imports no service; the product imports no development tooling, tests or benchmarks; the benchmarks import no
tests; in each service the HTTP edge (`api/`) and the Kafka edge (`handlers.py`) do not import each other,
directly or through another module. And that the check breaks when a contract is broken (a contract no code keeps)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(config: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), *(["--config", str(config)] if config else [])], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_every_layer_contract_is_kept():
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert " broken" in result.stdout and "0 broken" in result.stdout
    assert "9 kept, 0 broken" in result.stdout   # 5 layer contracts + one edge contract per service


def test_a_broken_contract_fails_the_check(tmp_path):
    config = tmp_path / "layers.toml"
    config.write_text('[tool.importlinter]\nroot_packages = ["shared"]\ninclude_external_packages = true\n\n'
                      '[[tool.importlinter.contracts]]\nname = "shared uses no pydantic"\ntype = "forbidden"\n'
                      'source_modules = ["shared"]\nforbidden_modules = ["pydantic"]\n', encoding="utf-8")
    result = lint(config)
    assert result.returncode != 0
    assert "shared uses no pydantic BROKEN" in result.stdout
