"""Alembic per service, configured in code: `services/<name>/migrations/` holds env.py (two lines
calling run_env) and versions/. `python -m servicekit migrate <name>` upgrades to head;
`--revision "message"` autogenerates a new revision (scaffolding the folder the first time)."""
from __future__ import annotations

import shutil
from pathlib import Path

from alembic import command
from alembic.config import Config

from . import service
from .config import REPO_ROOT, SERVICES, Settings
from .db import UtcDateTime, make_engine

ENV_PY = '''"""Alembic environment of this service: all the work is in servicekit.migrate."""
from servicekit.migrate import run_env

run_env("{name}")
'''


def migrations_dir(name: str) -> Path:
    return REPO_ROOT / "services" / name / "migrations"


def alembic_config(name: str, database_url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(name)))
    cfg.attributes["service"] = name
    cfg.attributes["database_url"] = database_url or Settings.load(name).database_url
    return cfg


def scaffold(name: str) -> None:
    folder = migrations_dir(name)
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    if not (folder / "env.py").exists():
        (folder / "env.py").write_text(ENV_PY.format(name=name))
    if not (folder / "script.py.mako").exists():
        shutil.copy(Path(__file__).parent / "migration_template" / "script.py.mako", folder)


def upgrade(name: str, database_url: str | None = None) -> None:
    command.upgrade(alembic_config(name, database_url), "head")


def revision(name: str, message: str) -> None:
    scaffold(name)
    command.revision(alembic_config(name), message=message, autogenerate=True)


def upgrade_all() -> None:
    for name in SERVICES:
        if (migrations_dir(name) / "env.py").exists():
            upgrade(name)


def _render_item(kind: str, item, autogen_context):
    """A UtcDateTime column is written into a revision as the type it stores, so revisions need
    no import of the kit's types (the conversion happens in Python, not in the schema)."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_env(name: str) -> None:
    """Called from a service's migrations/env.py with alembic's context in scope."""
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
