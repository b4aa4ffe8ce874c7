"""Alembic environment: runs migrations on the connection or URL the caller provides."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sequences.db import null_pool_engine
from sequences.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = null_pool_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename): with foreign keys on, the
            # drop fails while other rows point at it. SQLite ignores this pragma inside a
            # transaction, so it goes to the driver before the migration's transaction begins,
            # and the keys are checked once the rebuild is done.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        _run(conn)
        if sqlite:
            driver = conn.connection.driver_connection
            broken = driver.execute("PRAGMA foreign_key_check").fetchall()  # type: ignore[union-attr]
            driver.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
            if broken:
                raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
