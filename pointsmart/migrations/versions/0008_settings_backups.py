"""the chair's settings (county address, sync key, daily backups) and the record of every backup

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:30:00

"""
import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``.

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "village_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("county_url", sa.String(length=300), nullable=False),
        sa.Column("sync_key", sa.String(length=200), nullable=False),
        sa.Column("backup_daily", sa.Boolean(), nullable=False),
        sa.Column("backup_keep_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "backup_keep_days BETWEEN 1 AND 365", name=op.f("ck_village_settings_keep_days_range")
        ),
        sa.ForeignKeyConstraint(["updated_by"], ["user.id"], name=op.f("fk_village_settings_updated_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_village_settings")),
    )
    op.execute(
        "INSERT INTO village_settings (id, county_url, sync_key, backup_daily, backup_keep_days) "
        "VALUES (1, '', '', TRUE, 14)"
    )
    op.create_table(
        "backup_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"], name=op.f("fk_backup_run_actor_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_run")),
    )


def downgrade():
    op.drop_table("backup_run")
    op.drop_table("village_settings")
