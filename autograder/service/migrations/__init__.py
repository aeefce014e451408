"""Alembic migrations for the service's own tables (version table: autograder_alembic_version)."""
