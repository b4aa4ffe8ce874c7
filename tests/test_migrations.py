"""Migrations are the only way the schema is made, so they must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sequences.db import null_pool_engine
from sequences.migrate import current_revisions, head_revisions, upgrade
from sequences.models import Base


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    upgrade(database_url)
    engine = null_pool_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert diff == []


def test_migrations_form_one_line_with_a_single_head(database_url: str) -> None:
    # A second head means two revisions follow the same parent: the next one must be
    # rebased onto the head (or a merge revision added) before it lands.
    assert len(head_revisions(database_url)) == 1
    upgrade(database_url)
    assert current_revisions(database_url) == head_revisions(database_url)


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    assert set(current_revisions(database_url)) == set(head_revisions(database_url))
