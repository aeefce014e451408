"""Migration scripts, oldest first (alembic skips this file)."""
