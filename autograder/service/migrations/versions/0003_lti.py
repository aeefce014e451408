"""LTI 1.3: each student's link to the LMS (from their last launch) and the outbox of scores to post."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_lti"
down_revision = "0002_regrade"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "autograder_lti_link",
        sa.Column("assignment", sa.String(128), primary_key=True),
        sa.Column("student", sa.String(128), primary_key=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("deployment_id", sa.String(255), nullable=False),
        sa.Column("lms_user", sa.String(255), nullable=False),
        sa.Column("lineitem", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("autograder_lti_link_user", "autograder_lti_link", ["issuer", "client_id", "lms_user"])
    op.create_table(
        "autograder_lti_outbox",
        sa.Column("assignment", sa.String(128), primary_key=True),
        sa.Column("student", sa.String(128), primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("sent", sa.Text),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_try_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("autograder_lti_outbox")
    op.drop_table("autograder_lti_link")
