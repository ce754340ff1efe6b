"""月结: the close of a month (its figures' sha256, who, when), the rounds carried out of a month, and
the county's copy of each close

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 06:40:00

"""

import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. Closes are new: no row exists before
# this revision, so there is nothing for the change log to catch up with (no backfill). A close and a
# carry are never edited or deleted: the database refuses it, as it does for transfers.

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    # --- the village ---------------------------------------------------------------------------------
    op.create_table(
        "month_close",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("book_sha256", sa.String(length=64), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["closed_by"], ["user.id"], name=op.f("fk_month_close_closed_by_user")),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_month_close_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_month_close")),
        sa.UniqueConstraint("uuid", name=op.f("uq_month_close_uuid")),
        sa.UniqueConstraint("village_id", "month", name=op.f("uq_month_close_village_id_month")),
    )
    op.create_table(
        "round_carry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("carried_by", sa.Integer(), nullable=True),
        sa.Column("carried_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["carried_by"], ["user.id"], name=op.f("fk_round_carry_carried_by_user")),
        sa.ForeignKeyConstraint(
            ["round_id"], ["scoring_round.id"], name=op.f("fk_round_carry_round_id_scoring_round")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_carry")),
        sa.UniqueConstraint("round_id", "month", name=op.f("uq_round_carry_round_id_month")),
    )
    op.create_index(op.f("ix_round_carry_round_id"), "round_carry", ["round_id"], unique=False)
    for statement in APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)
    # --- the county: what it now receives -----------------------------------------------------------
    op.create_table(
        "synced_month_close",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by_uuid", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_synced_month_close_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synced_month_close")),
        sa.UniqueConstraint("village_id", "uuid", name=op.f("uq_synced_month_close_village_id_uuid")),
    )


#: the triggers that make the closes and the carries append-only (PostgreSQL's function comes from 0001)
APPEND_ONLY = {
    "sqlite": [
        f"CREATE TRIGGER {table}_no_{what} BEFORE {what.upper()} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for table in ("month_close", "round_carry")
        for what in ("update", "delete")
    ],
    "postgresql": [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION pointsmart_append_only()"
        for table in ("month_close", "round_carry")
    ],
}


def downgrade():
    # The change log keeps the records of the closes written since 0014: it is history, append-only,
    # and the county may have them already. Dropping the tables drops their triggers.
    op.drop_table("synced_month_close")
    op.drop_index(op.f("ix_round_carry_round_id"), table_name="round_carry")
    op.drop_table("round_carry")
    op.drop_table("month_close")
