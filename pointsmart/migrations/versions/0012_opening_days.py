"""the shop's opening days: a village setting (appended rows, carried to the county), and the county's copy

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:40:00

"""

import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. The setting is new: no row exists
# before this revision, so there is nothing for the change log to catch up with (no backfill). The
# county's anomaly rule for it (``closed_day``) has no threshold, so no threshold row either.

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # --- the village: each choice of the opening days (bits of ISO weekdays; 0: not set) ------------
    op.create_table(
        "opening_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("days BETWEEN 0 AND 127", name=op.f("ck_opening_days_days_range")),
        sa.ForeignKeyConstraint(["set_by"], ["user.id"], name=op.f("fk_opening_days_set_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_days")),
        sa.UniqueConstraint("uuid", name=op.f("uq_opening_days_uuid")),
    )
    # --- the county: what it now receives -----------------------------------------------------------
    op.create_table(
        "synced_opening_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_synced_opening_days_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synced_opening_days")),
        sa.UniqueConstraint("village_id", "uuid", name=op.f("uq_synced_opening_days_village_id_uuid")),
    )


def downgrade():
    # The change log keeps the records of the opening days written since 0012: it is history,
    # append-only (the database refuses to delete from it), and the county may have them already.
    op.drop_table("synced_opening_days")
    op.drop_table("opening_days")
