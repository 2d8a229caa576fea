"""Alembic's environment for every service (servicekit.migrate names the service in the config)."""
from alembic import context

from servicekit.migrate import run_env

run_env(context.config.attributes["service"])
