"""Alembic environment: the models' metadata, batch mode for SQLite's limited ALTER TABLE."""

from __future__ import annotations

from alembic import context

from ticketing import models  # registers every table on the metadata
from ticketing.db import make_engine

target_metadata = models.SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database url given to alembic")
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
