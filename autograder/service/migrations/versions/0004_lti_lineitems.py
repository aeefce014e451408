"""LTI line items: a link may name only its course's line item container (``lineitems``), and the line item
the tool found or created there for each assignment is remembered."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lti_lineitems"
down_revision = "0003_lti"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("autograder_lti_link", sa.Column("lineitems", sa.Text))
    op.create_table(
        "autograder_lti_lineitem",
        sa.Column("issuer", sa.String(255), primary_key=True),
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("container", sa.Text, primary_key=True),
        sa.Column("assignment", sa.String(128), primary_key=True),
        sa.Column("lineitem", sa.Text, nullable=False),
        sa.Column("found_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("autograder_lti_lineitem")
    with op.batch_alter_table("autograder_lti_link") as batch:
        batch.drop_column("lineitems")
