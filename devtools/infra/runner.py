"""`make run`: PostgreSQL, broker, migrations, topics, the four services as processes, and the demo.

The same `LocalSystem` is what the end-to-end tests start, so "works in the test" means "works in
`make run`". Data lives under `.data/` (git-ignored) and survives a restart; the broker keeps
messages in memory only, so on every start the relays' positions are reset and each service's whole
history is published again: consumers' inboxes make that harmless, and nothing published but not
yet consumed before a stop can be lost. Migrations run as the owner of the tables (the superuser
here) and the services as their app roles (`<service>_app`, docs/security.md); each service signs
checkpoints of its chain into `.data/anchors/<service>` with a key in `.data/anchor-keys/`. The back
office's person-token key pair is made once into `.data/backoffice-signing.key` and `.pub`: every
service trusts its public half (`PERSON_TOKEN_PUBLIC_KEYS`), the back office signs with the private one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import typer
from rich.console import Console

from devtools.infra.broker import TansuBroker
from devtools.infra.postgres import EmbeddedPostgres
from shared.anchoring.checkpoint import write_key_pair
from shared.auth import Role, token_hash
from shared.migrate import SERVICES, default_app_role
from shared.person_tokens import new_key_pair, public_key_of
from shared.reference import SEED_CONTRACT
from shared.topics import all_topics, ensure_topics

ROOT = Path(__file__).resolve().parents[2]
# one person per desk, and a second one at the desks whose corrections need four eyes (`shared/approvals.py`);
# `loader` is a script's identity, not a person's: `ledger demo` plays a whole year through every desk with it, and
# `approver` is the second person of every four-eyes desk the year needs (billing's refund, collections' runs)
FOUR_EYES_DESKS = (Role.TREASURY, Role.BILLING, Role.COLLECTIONS, Role.CONTRACTS, Role.PRIVACY)
DEV_PEOPLE = {**{role.value: [role.value] for role in Role},
              **{f"{role.value}-2": [role.value] for role in FOUR_EYES_DESKS},
              "loader": [role.value for role in Role if role not in (Role.ADMIN, Role.AUDITOR)],
              "approver": [role.value for role in FOUR_EYES_DESKS]}
DEV_TOKENS = {person: f"dev-{person}-token" for person in DEV_PEOPLE}
READY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 15

console = Console()


def dev_token_settings(tokens: dict[str, str], people: dict[str, list[str]]) -> str:
    """Development tokens (person → token; person → roles): flagged so, which production settings refuse."""
    return json.dumps({token_hash(token): {"actor": f"dev-{person}", "roles": people[person], "development": True}
                       for person, token in tokens.items()})


def living_in_group(pgid: int) -> list[int]:
    """The processes of a process group that have not exited yet (a zombie has: it only awaits its reaper)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # ended between listing and reading
        if int(group) == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL to the process and its workers (its own group, started with start_new_session), and wait
    until every one of them is gone: a signal is delivered asynchronously, and a worker still exiting
    would still hold the port the next start binds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT_S)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while living_in_group(process.pid):
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes of group {process.pid} still alive after SIGKILL: "
                               f"{living_in_group(process.pid)}")
        time.sleep(0.02)


@dataclass
class LocalSystem:
    data_dir: Path
    pg_port: int = 55432
    kafka_port: int = 59092
    http_base_port: int = 8001
    partitions: int = 6
    tokens: dict[str, str] = field(default_factory=lambda: dict(DEV_TOKENS))
    people: dict[str, list[str]] = field(default_factory=lambda: dict(DEV_PEOPLE))
    database_prefix: str = "ledger"
    postgres: EmbeddedPostgres | None = None
    broker: TansuBroker | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    # worker processes per service instance (`http_workers`); one unless named
    workers: dict[str, int] = field(default_factory=dict)
    # the back office's port: 8010 beside make run's services unless named
    backoffice_port: int | None = None

    def port_of(self, service: str) -> int:
        return self.http_base_port + SERVICES.index(service)

    def url_of(self, service: str) -> str:
        if service == "backoffice":
            return f"http://127.0.0.1:{self.backoffice_port or self.http_base_port + 9}"
        return f"http://127.0.0.1:{self.port_of(service)}"

    @staticmethod
    def demo_password(person: str) -> str:
        return f"{person}-demo"

    def database_name(self, service: str) -> str:
        return f"{self.database_prefix}_{service}"

    def database_url(self, service: str) -> str:
        """What the service connects with: its app role, which may append and read, never rewrite."""
        assert self.postgres is not None
        return self.postgres.url(self.database_name(service), user=default_app_role(service))

    def anchor_dir(self, service: str) -> Path:
        return self.data_dir / "anchors" / service

    def anchor_key(self, service: str, public: bool = False) -> Path:
        """The service's signing key (`<service>.key`) or its public key (`<service>.pem`): the directory's
        *.pem files are every service's public keys, which `ledger verify --anchor-key` takes at once."""
        return self.data_dir / "anchor-keys" / f"{service}.{'pem' if public else 'key'}"

    def person_token_key_file(self, public: bool = False) -> Path:
        return self.data_dir / f"backoffice-signing.{'pub' if public else 'key'}"

    def person_token_private_key(self) -> str:
        """The back office's signing key of person tokens (base64 of its raw 32 bytes), made once and kept
        in the data directory (mode 600) so a restart keeps the tokens' trust; production's comes from the
        secret store."""
        key_file = self.person_token_key_file()
        if not key_file.exists():
            private, public = new_key_pair()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            for path, key in ((key_file, private), (self.person_token_key_file(public=True), public)):
                # created 600, never readable by others even for a moment
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w", encoding="ascii") as out:
                    out.write(key + "\n")
        return key_file.read_text(encoding="ascii").strip()

    def person_token_public_key(self) -> str:
        return public_key_of(self.person_token_private_key())

    # ---- infrastructure ---------------------------------------------------------------------
    def start_infrastructure(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.postgres = EmbeddedPostgres(self.data_dir / "postgres", self.pg_port)
        self.postgres.stop()  # a previous run killed hard may have left the server up
        self.postgres.start()
        self.postgres.create_databases([self.database_name(s) for s in SERVICES])
        for service in SERVICES:
            self.postgres.migrate(service, self.database_name(service))
            # the development signing key of the service's checkpoints (production's comes from the secret store)
            if not self.anchor_key(service).exists():
                write_key_pair(self.anchor_key(service), self.anchor_key(service, public=True))
        self.reset_relay_positions()
        self.broker = TansuBroker(self.kafka_port, log_file=self.data_dir / "tansu.log").start()
        asyncio.run(ensure_topics(self.broker.bootstrap, all_topics(), self.partitions))

    def reset_relay_positions(self) -> None:
        """The memory broker starts empty: publish each history again (consumers drop duplicates), and the
        contracts service's personal-data keys with it (a copy already held, or a marker, stays as it is)."""
        assert self.postgres is not None
        for service in SERVICES:
            self.postgres.execute(self.database_name(service), "DELETE FROM relay_position")
        self.postgres.execute(self.database_name("contracts"), "UPDATE personal_data_keys SET published = false")

    def restart_broker(self) -> None:
        assert self.broker is not None
        self.broker.stop()
        self.broker.start()
        asyncio.run(ensure_topics(self.broker.bootstrap, all_topics(), self.partitions))

    # ---- services ---------------------------------------------------------------------------
    def service_env(self, service: str) -> dict[str, str]:
        assert self.broker is not None
        prefix = service.upper()
        env = dict(os.environ)
        env.update({
            f"{prefix}_DATABASE_URL": self.database_url(service),
            f"{prefix}_KAFKA_BOOTSTRAP": self.broker.bootstrap,
            f"{prefix}_HTTP_PORT": str(self.port_of(service)),
            f"{prefix}_TOKENS": dev_token_settings(self.tokens, self.people),
            f"{prefix}_PERSON_TOKEN_PUBLIC_KEYS": json.dumps([self.person_token_public_key()]),
            f"{prefix}_TOPIC_PARTITIONS": str(self.partitions),
            f"{prefix}_RELAY_POLL_INTERVAL_MS": "200",
            f"{prefix}_HTTP_WORKERS": str(self.workers.get(service, 1)),
            f"{prefix}_ANCHOR_DIR": str(self.anchor_dir(service)),
            f"{prefix}_ANCHOR_SIGNING_KEY": str(self.anchor_key(service)),
            f"{prefix}_ANCHOR_INTERVAL_MS": "1000",
            "PYTHONPATH": str(ROOT),
        })
        return env

    def start_service(self, service: str) -> None:
        log = open(self.data_dir / f"{service}.log", "ab")
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"], env=self.service_env(service), cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def start_services(self, backoffice: bool = True) -> None:
        for service in SERVICES:
            self.start_service(service)
        if backoffice:
            self.start_backoffice()
        for service in (*SERVICES, "backoffice") if backoffice else SERVICES:
            self.wait_ready(service)

    def backoffice_people(self) -> list[str]:
        """Who may sign in to the back office: every person of the tokens but the scripts' identity."""
        return [person for person in self.people if person != "loader"]

    def backoffice_env(self) -> dict[str, str]:
        """The back office beside the services: their addresses, the person-token signing key, and the demo
        people (one per desk) with argon2 hashes of the passwords `make run` prints."""
        from services.backoffice.people import hash_password

        port = self.url_of("backoffice").rsplit(":", 1)[1]
        people = [{"name": f"dev-{person}", "display_name": f"dev-{person}", "roles": self.people[person],
                   "password_hash": hash_password(self.demo_password(person))}
                  for person in self.backoffice_people()]
        env = dict(os.environ)
        env.update({f"BACKOFFICE_{service.upper()}_URL": self.url_of(service) for service in SERVICES})
        env.update({"BACKOFFICE_SIGNING_KEY": self.person_token_private_key(), "BACKOFFICE_PORT": port,
                    "BACKOFFICE_PEOPLE": json.dumps(people), "PYTHONPATH": str(ROOT)})
        return env

    def start_backoffice(self) -> None:
        log = open(self.data_dir / "backoffice.log", "ab")
        self.processes["backoffice"] = subprocess.Popen(
            [sys.executable, "-m", "services.backoffice"], env=self.backoffice_env(), cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, service: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise RuntimeError(f"{service} exited with code {process.returncode}; see {self.data_dir}/{service}.log")
            try:
                if httpx.get(f"{self.url_of(service)}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{service} not ready in {timeout_s}s; see {self.data_dir}/{service}.log")

    def kill_service(self, service: str) -> None:
        """SIGKILL to the service's whole process group (its workers too): no cleanup at all, as a crashed
        pod, and no worker left holding the port."""
        _kill_group(self.processes.pop(service))

    def stop_service(self, service: str) -> None:
        process = self.processes.pop(service)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _kill_group(process)

    def stop(self) -> None:
        for service in list(self.processes):
            self.stop_service(service)
        if self.broker:
            self.broker.stop()
        if self.postgres:
            self.postgres.stop()

    # ---- demo -------------------------------------------------------------------------------
    def load_demo(self) -> dict:
        """Register and sign the seed contract once; a restart finds it and changes nothing."""
        headers = {"Authorization": f"Bearer {self.tokens['contracts']}"}
        dispatch = {"Authorization": f"Bearer {self.tokens['dispatch']}"}
        terms = json.loads(SEED_CONTRACT.read_text(encoding="utf-8"))
        contracts = self.url_of("contracts")
        found = httpx.get(f"{contracts}/contracts", params={"number": terms["number"]}, headers=headers, timeout=10)
        found.raise_for_status()
        if found.json()["items"]:
            return found.json()["items"][0]
        created = httpx.post(f"{contracts}/contracts", json=terms, headers=headers, timeout=10)
        created.raise_for_status()
        contract_id = created.json()["contract_id"]
        signed = httpx.post(f"{contracts}/contracts/{contract_id}/sign", headers=headers, timeout=10,
                            json={"signed_at": "2021-12-07T12:00:00+06:00"})
        signed.raise_for_status()
        # the first week of January 2022 applied for on time (Appendix 1: 31,000 kWh → 1,000 a day),
        # so `GET /schedule?date=2022-01-03` shows a day of dispatch
        for day in range(3, 10):
            applied = httpx.post(f"{contracts}/contracts/{contract_id}/applications", headers=dispatch, timeout=10,
                                 json={"day": f"2022-01-{day:02d}", "hours_kwh": [str(35 + h % 12) for h in range(24)],
                                       "submitted_at": f"2021-12-{20 + day:02d}T09:00:00+06:00"})
            applied.raise_for_status()
        return signed.json()


cli = typer.Typer(help="Local development system: `python -m devtools.infra.runner run` is what `make run` calls.",
                  no_args_is_help=True)


@cli.callback()
def _commands() -> None:
    """Keeps `run` a named sub-command (typer would otherwise make a lone command the whole program)."""


@cli.command()
def run(data_dir: Path = typer.Option(ROOT / ".data", help="where databases and logs live"),
        pg_port: int = typer.Option(55432, envvar="LEDGER_DEV_PG_PORT"),
        kafka_port: int = typer.Option(59092, envvar="LEDGER_DEV_KAFKA_PORT"),
        http_base_port: int = typer.Option(8001, envvar="LEDGER_DEV_HTTP_BASE_PORT"),
        demo: bool = typer.Option(True, help="load the seed contract"),
        exit_after_start: bool = typer.Option(False, help="start, load the demo, then stop (a smoke check)")) -> None:
    """Start everything and keep running until Ctrl-C."""
    system = LocalSystem(data_dir, pg_port, kafka_port, http_base_port)
    stopping = False

    def on_signal(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with console.status("starting PostgreSQL, migrations and the broker…"):
            system.start_infrastructure()
        console.print(f"[green]✓[/] PostgreSQL on 127.0.0.1:{pg_port} (data in {data_dir / 'postgres'})")
        console.print(f"[green]✓[/] broker (tansu) on {system.broker.bootstrap}; topics: {', '.join(all_topics())}")
        with console.status("starting the four services…"):
            system.start_services()
        if demo:
            contract = system.load_demo()
            console.print(f"[green]✓[/] demo: contract {contract['number']} ({contract['contract_id']}) "
                          f"is {contract['status']}")
        _print_endpoints(system)
        while not stopping and not exit_after_start:
            for name, process in system.processes.items():
                if process.poll() is not None:
                    console.print(f"[red]{name} exited with code {process.returncode}; see {data_dir}/{name}.log[/]")
                    stopping = True
            time.sleep(0.5)
    finally:
        with console.status("stopping…"):
            system.stop()
        console.print("stopped: every process this command started has ended")


def _print_endpoints(system: LocalSystem) -> None:
    # plain lines, not a table: addresses must stay whole in any terminal width and in a log file
    console.print("services:")
    for service in SERVICES:
        url = system.url_of(service)
        console.print(f"  {service:<10} API docs {url}/docs   AsyncAPI {url}/asyncapi.json "
                      f"(also docs/asyncapi/{service}.json)   log {system.data_dir / f'{service}.log'}",
                      soft_wrap=True, highlight=False)
    console.print("databases (the services connect as their app role; the owner, postgres, migrates):")
    for service in SERVICES:
        console.print(f"  {service:<10} {system.database_url(service)}   psql: "
                      f"psql -h 127.0.0.1 -p {system.pg_port} -U postgres {system.database_name(service)}",
                      soft_wrap=True, highlight=False)
    console.print(f"broker (Kafka protocol): {system.broker.bootstrap}   anchors: {system.data_dir / 'anchors'}",
                  highlight=False)
    console.print(f"back office's person-token signing key: {system.person_token_key_file()} (every service "
                  "trusts its public half)", highlight=False)
    console.print("audit right here: `ledger verify` (every service), `ledger replay --service invoicing`")
    console.print(f"back office (the operators' workplace in a browser): {system.url_of('backoffice')}   "
                  f"log {system.data_dir / 'backoffice.log'}", soft_wrap=True, highlight=False)
    console.print("  sign in as (name / password; one per desk, a second person where corrections need four eyes):")
    for person in system.backoffice_people():
        console.print(f"  dev-{person:<14} {', '.join(system.people.get(person, [])):<12} "
                      f"{system.demo_password(person)}", highlight=False)
    console.print("people and their API tokens (one per desk; a second person where corrections need four eyes):")
    for person, token in system.tokens.items():
        console.print(f"  dev-{person:<14} {', '.join(system.people.get(person, [])):<12} {token}", highlight=False)
    console.print("Ctrl-C stops everything.")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
