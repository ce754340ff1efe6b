"""an accepted claim keeps what it added to the cell (claim.added), beside the total it wrote (times)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 11:00:00

"""

import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. Claims accepted before it keep
# ``added`` NULL: what the cell held before them is only in the audit log, and no guess is written.

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.add_column(sa.Column("added", sa.Integer(), nullable=True))
        batch_op.create_check_constraint("added_not_negative", "added IS NULL OR added >= 0")


def downgrade():
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_claim_added_not_negative"), type_="check")
        batch_op.drop_column("added")
