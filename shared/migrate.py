"""Alembic, driven from code: `upgrade(service, url)` applies a service's migrations.

Each service keeps its own `migrations/` (its own database, its own history); the env.py of each is
one call into `run_env` so the async plumbing lives here once. Migrations run as the owner of the
tables (`<SERVICE>_MIGRATION_DATABASE_URL`); one of them grants the service's app role, the role the
service itself connects as, what it may do (`shared/eventstore/roles.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.eventstore.roles import checked_role_name

SERVICES = ("contracts", "metering", "invoicing", "claims")
_ROOT = Path(__file__).resolve().parent.parent
# what a migration runs its statements through (Alembic's `op.execute`): the event store's, the dead letters'
# and the idempotency keys' DDL helpers take it
Execute = Callable[[str], object]


def default_app_role(service: str) -> str:
    return f"{service}_app"


def alembic_config(service: str, url: str, app_role: str | None = None) -> Config:
    assert service in SERVICES, f"unknown service {service}"
    config = Config()
    config.set_main_option("script_location", str(_ROOT / "services" / service / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    config.set_main_option("app_role", checked_role_name(app_role or default_app_role(service)))
    return config


def upgrade(service: str, url: str, revision: str = "head", app_role: str | None = None) -> None:
    """Synchronous (Alembic runs its own event loop): call it from a thread inside async code. `url`
    connects as the owner; `app_role` (`<service>_app` by default) gets the service's rights."""
    command.upgrade(alembic_config(service, url, app_role), revision)


def app_role() -> str:
    """Inside a migration: the role the service connects as (the one `upgrade` was given)."""
    from alembic import context

    role = context.config.get_main_option("app_role")
    if not role:
        raise RuntimeError("migrations run through shared.migrate.upgrade, which names the app role")
    return role


def run_env(context: ModuleType) -> None:
    """Body of every service's migrations/env.py (`context`: Alembic's, as env.py imports it)."""
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


def main(argv: list[str] | None = None) -> None:
    """`python -m shared.migrate SERVICE`: upgrade SERVICE's database as its owner, named by
    `<SERVICE>_MIGRATION_DATABASE_URL` (`<SERVICE>_DATABASE_URL` when unset), granting the service's
    rights to `<SERVICE>_APP_ROLE` (`<service>_app` when unset).

    The Kubernetes migration Job runs this before a Deployment rolls.
    """
    import importlib
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in SERVICES:
        raise SystemExit(f"usage: python -m shared.migrate {{{'|'.join(SERVICES)}}}")
    settings = importlib.import_module(f"services.{args[0]}.app").Settings()
    upgrade(args[0], settings.migration_database_url or settings.database_url, app_role=settings.app_role)
    print(f"{args[0]}: migrated to head")


if __name__ == "__main__":
    main()
