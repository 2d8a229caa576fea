"""Alembic environment of this service: all the work is in servicekit.migrate."""
from servicekit.migrate import run_env

run_env("support")
