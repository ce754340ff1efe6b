"""the county's rebuild of a month's figures reads a village's synced transfers of the month: an index
on (village_id, created_at) for it

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 10:40:00

"""

from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. The county rebuilds a closed month's
# figures (pointsmart.county.month_figures) on every view of a village's page and of its month book,
# twelve months a page: ``WHERE village_id = ? AND created_at >= ? AND created_at < ?`` on
# synced_transfer, which had only (village_id, uuid) and (village_id, household_uuid) to go by — every
# transfer the village ever synced, read to keep a month's. The other tables that rebuild reads have an
# index that leads with the village (and synced_redemption one on (village_id, created_at)).

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_synced_transfer_created", "synced_transfer", ["village_id", "created_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_synced_transfer_created", table_name="synced_transfer")
