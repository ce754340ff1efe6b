"""API tokens carry a name and the time they were last used, so that each user can tell them apart

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("name", sa.String(length=60), nullable=False, server_default=sa.text("''")))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("name")
