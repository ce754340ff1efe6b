"""the county's anomaly checks: each rule's threshold, the reviewers' marks on findings, two indexes for the checks' reads

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:25:00

"""
import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``.

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    # no row: the rule's default threshold (in the code), so nothing to fill in
    op.create_table(
        "anomaly_threshold",
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["set_by"], ["user.id"], name=op.f("fk_anomaly_threshold_set_by_user")),
        sa.PrimaryKeyConstraint("rule", name=op.f("pk_anomaly_threshold")),
    )
    op.create_table(
        "anomaly_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("checked_by", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["village_id"], ["village.id"], name=op.f("fk_anomaly_check_village_id_village")),
        sa.ForeignKeyConstraint(["checked_by"], ["user.id"], name=op.f("fk_anomaly_check_checked_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_check")),
        sa.UniqueConstraint("rule", "village_id", "subject", "period", name=op.f("uq_anomaly_check_rule_village_id_subject_period")),
    )
    # the checks' reads: a period's redemptions across villages; the few moves that receive stock
    op.create_index("ix_synced_redemption_at", "synced_redemption", ["created_at"], unique=False)
    op.create_index(
        "ix_synced_stock_move_kind", "synced_stock_move", ["kind", "village_id", "goods_uuid"], unique=False
    )


def downgrade():
    op.drop_index("ix_synced_stock_move_kind", table_name="synced_stock_move")
    op.drop_index("ix_synced_redemption_at", table_name="synced_redemption")
    op.drop_table("anomaly_check")
    op.drop_table("anomaly_threshold")
