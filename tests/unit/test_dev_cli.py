"""Proves the development runner's command line (`python -m devtools.infra.runner`, what `make run` calls) parses `run` and its options."""

from __future__ import annotations

from typer.testing import CliRunner

from devtools.infra.runner import cli


def test_run_is_a_subcommand_with_its_options():
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0, result.output
    assert "--exit-after-start" in result.output and "--pg-port" in result.output


def test_an_unknown_command_is_refused():
    result = CliRunner().invoke(cli, ["launch"])
    assert result.exit_code != 0
