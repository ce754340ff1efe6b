"""the county holds one close per village and month (月结只有一次): unique (village_id, month)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. A village closes a month once (its
# own table is unique on it since 0014), so a county that took a second close of a month took a forged
# one. The migration does not guess which of the two is the village's: it stops, naming them, and the
# county's administrator removes the wrong row by hand before upgrading again.

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    twice = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT village_id, month, COUNT(*) FROM synced_month_close GROUP BY village_id, month"
                " HAVING COUNT(*) > 1 ORDER BY village_id, month"
            )
        )
        .all()
    )
    if twice:
        listed = "; ".join(f"village_id {v} month {m}: {n} rows" for v, m, n in twice[:20])
        raise RuntimeError(
            "0021: synced_month_close holds more than one close of the same village and month "
            f"({listed}). A village closes a month once: keep the row whose uuid and sha256 the village "
            "shows for that month, delete the others, and upgrade again."
        )
    with op.batch_alter_table("synced_month_close", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_synced_month_close_village_id_month"), ["village_id", "month"]
        )


def downgrade():
    with op.batch_alter_table("synced_month_close", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_synced_month_close_village_id_month"), type_="unique")
