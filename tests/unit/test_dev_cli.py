"""Proves the development runner's command line (`python -m devtools.infra.runner`, what `make run` calls) parses `run` and its options,
and that the back office's person-token key is made once, kept private, and trusted by every service."""

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


def test_the_back_office_key_is_made_once_private_and_every_service_trusts_it(tmp_path):
    import json
    from datetime import UTC, datetime

    from devtools.infra.runner import LocalSystem
    from shared.person_tokens import issue_person_token, verify_person_token

    system = LocalSystem(tmp_path / "data")
    private = system.person_token_private_key()
    assert LocalSystem(tmp_path / "data").person_token_private_key() == private   # a restart keeps it
    for public in (False, True):
        assert system.person_token_key_file(public).stat().st_mode & 0o777 == 0o600
    system.broker = type("Broker", (), {"bootstrap": "127.0.0.1:1"})()   # service_env names the broker
    system.postgres = type("Postgres", (), {"url": lambda self, name, user: f"postgresql://{user}@x/{name}"})()
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for service in ("contracts", "invoicing"):
        trusted = json.loads(system.service_env(service)[f"{service.upper()}_PERSON_TOKEN_PUBLIC_KEYS"])
        token = issue_person_token(private, person="dev-person", roles=["billing"], audience=service, now=now)
        assert verify_person_token(token, trusted, audience=service, now=now).person == "dev-person"
