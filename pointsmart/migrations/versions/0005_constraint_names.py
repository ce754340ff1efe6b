"""constraint names cover every column: rename the county's (village_id, uuid) unique constraints

The naming convention named a unique constraint after its first column only, so the nine
``UNIQUE (village_id, uuid)`` constraints of the county's projections were all called
``uq_<table>_village_id``: the name said less than the constraint did, and a second constraint
starting with ``village_id`` on one table would have collided with it. The convention now uses every
column (``pointsmart.extensions.NAMING``); this renames the constraints made under the old one. A
one-column name is the same under both conventions, so nothing else changes.

PostgreSQL renames in place (the constraint's index follows, nothing is rebuilt); SQLite keeps a
constraint's name only in the table's CREATE statement, so batch mode copies the table — on a village's
SQLite these tables are empty, and a county runs on PostgreSQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00

"""
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``.

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = (
    "synced_category", "synced_criterion", "synced_goods", "synced_household", "synced_redemption",
    "synced_round", "synced_round_result", "synced_stock_move", "synced_transfer",
)
COLUMNS = ["village_id", "uuid"]


def _rename(old_suffix, new_suffix):
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        old, new = f"uq_{table}_{old_suffix}", f"uq_{table}_{new_suffix}"
        if postgresql:
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")
        else:
            with op.batch_alter_table(table) as batch_op:
                batch_op.drop_constraint(old, type_="unique")
                batch_op.create_unique_constraint(new, COLUMNS)


def upgrade():
    _rename("village_id", "village_id_uuid")


def downgrade():
    _rename("village_id_uuid", "village_id")
