"""Alembic, driven from code: `upgrade(service, url)` applies a service's migrations.

Each service keeps its own `migrations/` (its own database, its own history); the env.py of each is
one call into `run_env` so the async plumbing lives here once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

SERVICES = ("contracts", "metering", "invoicing", "claims")
_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, url: str) -> Config:
    assert service in SERVICES, f"unknown service {service}"
    config = Config()
    config.set_main_option("script_location", str(_ROOT / "services" / service / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(service: str, url: str, revision: str = "head") -> None:
    """Synchronous (Alembic runs its own event loop): call it from a thread inside async code."""
    command.upgrade(alembic_config(service, url), revision)


def run_env(context) -> None:
    """Body of every service's migrations/env.py."""
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection) -> None:
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
    """`python -m shared.migrate SERVICE`: upgrade SERVICE's database named by `<SERVICE>_DATABASE_URL`.

    The Kubernetes migration Job runs this before a Deployment rolls.
    """
    import importlib
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in SERVICES:
        raise SystemExit(f"usage: python -m shared.migrate {{{'|'.join(SERVICES)}}}")
    settings = importlib.import_module(f"services.{args[0]}.app").Settings()
    upgrade(args[0], settings.database_url)
    print(f"{args[0]}: migrated to head")


if __name__ == "__main__":
    main()
