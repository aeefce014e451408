"""Regrade requests: a student's question about one check or hand-graded answer, and the instructor's answer."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_regrade"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "autograder_regrade",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("assignment", sa.String(128), nullable=False),
        sa.Column("student", sa.String(128), nullable=False),
        sa.Column("upload_id", sa.Integer, nullable=False),
        sa.Column("notebook", sa.String(128), nullable=False),
        sa.Column("grade_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("answered_by", sa.String(128)),
        sa.Column("answered_at", sa.DateTime),
        sa.Column("old_score", sa.Float),
        sa.Column("new_score", sa.Float),
    )
    op.create_index("autograder_regrade_student", "autograder_regrade", ["assignment", "student"])


def downgrade() -> None:
    op.drop_table("autograder_regrade")
