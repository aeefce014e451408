"""Accounts (hashed sign-in tokens) and uploads (the durable grading queue and history)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "autograder_account",
        sa.Column("student", sa.String(128), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "autograder_upload",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("assignment", sa.String(128), nullable=False),
        sa.Column("student", sa.String(128), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("queued_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("recorded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("score", sa.Float),
        sa.Column("max_score", sa.Float),
        sa.Column("penalty", sa.Float),
        sa.Column("reason", sa.Text),
        sa.Column("checks", sa.Text),
        sa.Column("counted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("seconds", sa.Float),
    )
    op.create_index("autograder_upload_student", "autograder_upload", ["assignment", "student"])
    op.create_index("autograder_upload_status", "autograder_upload", ["status", "queued_at"])


def downgrade() -> None:
    op.drop_table("autograder_upload")
    op.drop_table("autograder_account")
