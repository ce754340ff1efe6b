"""the county keeps the name of who closed a month (月结人), as the village's close now sends it

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 10:45:00

"""

import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. Closes synced before carry no name:
# their rows keep "" (the county then shows the closer's id, labelled as such); a close a village
# sends from now on carries the name its users see.

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("synced_month_close", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_by_name", sa.String(length=40), server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("synced_month_close", schema=None) as batch_op:
        batch_op.drop_column("closed_by_name")
