"""the year-end rule for points (keep, clear at year end, expire N months after earning), as a history

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:45:00

"""
import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``.

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    # no row means "points never expire", today's behaviour: nothing to fill in
    op.create_table(
        "points_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=10), nullable=False),
        sa.Column("months", sa.Integer(), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("rule IN ('keep', 'year_end', 'months')", name=op.f("ck_points_rule_rule_known")),
        sa.CheckConstraint(
            "(rule = 'months' AND months IS NOT NULL AND months BETWEEN 1 AND 120) OR (rule <> 'months' AND months IS NULL)",
            name=op.f("ck_points_rule_months_with_rule"),
        ),
        sa.ForeignKeyConstraint(["set_by"], ["user.id"], name=op.f("fk_points_rule_set_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_rule")),
    )


def downgrade():
    op.drop_table("points_rule")
