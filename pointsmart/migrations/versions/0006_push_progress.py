"""the sync page's push progress lives in sync_state, so that any server process can show it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (
    ("push_started_at", sa.DateTime(), None),
    ("push_beat_at", sa.DateTime(), None),
    ("push_finished_at", sa.DateTime(), None),
    ("push_ok", sa.Boolean(), None),
    ("push_message", sa.String(length=500), "''"),
    ("push_head_seq", sa.BigInteger(), "0"),
    ("push_acked_seq", sa.BigInteger(), "0"),
    ("push_records", sa.Integer(), "0"),
    ("push_batches", sa.Integer(), "0"),
    ("push_retries", sa.Integer(), "0"),
)


def upgrade():
    with op.batch_alter_table("sync_state") as batch:
        for name, type_, default in COLUMNS:
            batch.add_column(
                sa.Column(name, type_, nullable=default is None, server_default=sa.text(default) if default else None)
            )


def downgrade():
    with op.batch_alter_table("sync_state") as batch:
        for name, _type, _default in reversed(COLUMNS):
            batch.drop_column(name)
