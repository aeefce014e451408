"""Alembic environment: run on the connection `db.prepare` hands over, with the service's version table."""

from __future__ import annotations

from alembic import context

from autograder.service.db import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  transaction_per_migration=True,
                  include_name=lambda name, kind, _parent: kind != "table" or str(name).startswith("autograder_"))
with context.begin_transaction():
    context.run_migrations()
