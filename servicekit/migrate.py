"""Alembic per service, configured in code: a service's revisions are in
`services/<name>/migrations/versions/`; the environment (env.py) and the revision template
(script.py.mako) are the kit's, once, in `migration_template/`. `python -m servicekit migrate <name>`
upgrades to head; `--revision "message"` autogenerates a new revision (making the folder the first
time)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from . import service
from .config import REPO_ROOT, SERVICES, Settings
from .db import UtcDateTime, make_engine

SCRIPT_DIR = Path(__file__).parent / "migration_template"  # env.py and script.py.mako, every service's


def migrations_dir(name: str) -> Path:
    return REPO_ROOT / "services" / name / "migrations"


def versions_dir(name: str) -> Path:
    return migrations_dir(name) / "versions"


def has_migrations(name: str) -> bool:
    return versions_dir(name).is_dir()


def alembic_config(name: str, database_url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(versions_dir(name)))
    cfg.attributes["service"] = name
    cfg.attributes["database_url"] = database_url or Settings.load(name).database_url
    return cfg


def upgrade(name: str, database_url: str | None = None) -> None:
    command.upgrade(alembic_config(name, database_url), "head")


def revision(name: str, message: str) -> None:
    versions_dir(name).mkdir(parents=True, exist_ok=True)
    command.revision(alembic_config(name), message=message, autogenerate=True)


def upgrade_all() -> None:
    for name in SERVICES:
        if has_migrations(name):
            upgrade(name)


def _render_item(kind: str, item, autogen_context):
    """A UtcDateTime column is written into a revision as the type it stores, so revisions need
    no import of the kit's types (the conversion happens in Python, not in the schema)."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_env(name: str) -> None:
    """Called from migration_template/env.py with alembic's context in scope."""
    from alembic import context

    cfg = context.config
    url = cfg.attributes.get("database_url") or Settings.load(name).database_url
    metadata = service.module(name, "models").Base.metadata
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata,
                              render_as_batch=engine.dialect.name == "sqlite", compare_type=True,
                              render_item=_render_item)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
