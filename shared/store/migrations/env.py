"""Alembic's environment: the connection comes from the Config that shared.store.migrate builds in code
(config.attributes["connection"]), or an engine is made from its sqlalchemy.url; offline (--sql) writes SQL.
Imported outside Alembic (a test importing every module), it does nothing."""
from alembic import context
from sqlalchemy import create_engine

from shared.store.schema import metadata

OPTIONS = {"target_metadata": metadata, "compare_type": True, "render_as_batch": True}


def migrate(**where) -> None:
    context.configure(**where, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    config = context.config
    if context.is_offline_mode():
        migrate(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    elif (connection := config.attributes.get("connection")) is not None:
        migrate(connection=connection)
    else:
        with create_engine(config.get_main_option("sqlalchemy.url")).connect() as connection:
            migrate(connection=connection)


if getattr(context, "_proxy", None) is not None:  # Alembic is running this file
    run()
