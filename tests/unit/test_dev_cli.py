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


def test_the_ledger_tools_default_to_make_runs_databases(tmp_path):
    """`ledger verify` / `ledger replay` read each service's settings: with nothing set, they reach the
    database `make run` keeps for that service, as the service's app role."""
    from devtools.infra.postgres import EmbeddedPostgres
    from devtools.infra.runner import LocalSystem
    from shared.migrate import SERVICES, default_app_role

    system = LocalSystem(tmp_path)   # make run's defaults: PostgreSQL on 55432, databases ledger_<service>
    local = EmbeddedPostgres(tmp_path, system.pg_port)
    for service in SERVICES:
        settings = __import__(f"services.{service}.app", fromlist=["Settings"]).Settings()
        assert settings.database_url == local.url(system.database_name(service), user=default_app_role(service))
