"""Every service's Alembic migrations build exactly what its models declare (on the database the
tests use), and downgrade back to nothing: `make run` and deployments migrate, never create_all."""
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from servicekit import migrate, service
from servicekit.config import SERVICES
from servicekit.db import make_engine


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_migrations_match_models_and_downgrade(name, tmp_path):
    assert migrate.has_migrations(name), f"{name} has no migrations"
    url = f"sqlite:///{tmp_path / (name + '.db')}"
    migrate.upgrade(name, url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                    service.module(name, "models").Base.metadata)
        assert diff == [], f"{name}: models and migrations differ: {diff}"
        command.downgrade(migrate.alembic_config(name, url), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_test_database_matches_models(name, runtime_for):
    """The same check on the suite's own database (PostgreSQL in CI), migrated by the fixtures."""
    rt = runtime_for(name)
    with rt.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), rt.metadata)
    assert diff == [], f"{name}: models and migrations differ on {rt.engine.dialect.name}: {diff}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_the_environment_and_the_revision_template_are_the_kits(name):
    """servicekit/migration_template/ holds env.py and script.py.mako once; a service holds revisions."""
    for copy in ("env.py", "script.py.mako"):
        assert not (migrate.migrations_dir(name) / copy).exists(), f"{name} has its own {copy}"
