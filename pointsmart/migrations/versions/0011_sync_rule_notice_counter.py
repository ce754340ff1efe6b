"""the county sees the village's year-end rule, a round's notice (published, days, photos), a redemption's counter and card

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:20:00

"""
import hashlib
import uuid
from datetime import UTC, datetime

import msgspec
import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. The change log's records of the
# year-end rule's rows made before this revision are written below in the wire form of this day.

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    # --- the village: its year-end rule's rows get a uuid (the change log carries them) and a time ---
    with op.batch_alter_table("points_rule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(), nullable=True))
    bind = op.get_bind()
    for (row_id,) in bind.execute(sa.text("SELECT id FROM points_rule ORDER BY id")).all():
        bind.execute(
            sa.text("UPDATE points_rule SET uuid = :u, created_at = since WHERE id = :i"),
            {"u": str(uuid.uuid4()), "i": row_id},
        )
    with op.batch_alter_table("points_rule", schema=None) as batch_op:
        batch_op.alter_column("uuid", existing_type=sa.String(length=36), nullable=False)
        batch_op.alter_column("created_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_points_rule_uuid"), ["uuid"])

    # --- the county: what it now receives -----------------------------------------------------------
    op.create_table(
        "synced_points_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=10), nullable=False),
        sa.Column("months", sa.Integer(), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_synced_points_rule_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synced_points_rule")),
        sa.UniqueConstraint("village_id", "uuid", name=op.f("uq_synced_points_rule_village_id_uuid")),
    )
    # None: sent by a village that has not upgraded, so not known (the checks then do without)
    with op.batch_alter_table("synced_round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("notice_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("notice_photos", sa.Integer(), nullable=True))
    with op.batch_alter_table("synced_redemption", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator_uuid", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("card_uuid", sa.String(length=36), nullable=True))

    # --- the change log: the rule's rows made before it carried them ---------------------------------
    _backfill_rules(bind)


def downgrade():
    # The change log keeps the records of the rule written since 0011: it is history, append-only
    # (the database refuses to delete from it), and the county may have them already.
    with op.batch_alter_table("synced_redemption", schema=None) as batch_op:
        batch_op.drop_column("card_uuid")
        batch_op.drop_column("operator_uuid")
    with op.batch_alter_table("synced_round", schema=None) as batch_op:
        batch_op.drop_column("notice_photos")
        batch_op.drop_column("notice_days")
        batch_op.drop_column("published_at")
    op.drop_table("synced_points_rule")
    with op.batch_alter_table("points_rule", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_points_rule_uuid"), type_="unique")
        batch_op.drop_column("created_at")
        batch_op.drop_column("uuid")


# --- the backfill: one change record for each row of the year-end rule, after the head -----------
#
# As 0004 wrote its records: a record's canonical bytes are {"kind", "payload", "seq", "uuid"} as
# compact JSON with keys sorted at every level; its digest is sha256(previous digest + those bytes);
# each record carries the village's totals as of itself, which a rule's record does not move.

_ENCODER = msgspec.json.Encoder(order="sorted")
_int, _text, _time = sa.Integer, sa.String, sa.DateTime
POINTS_RULE = sa.table(
    "points_rule", sa.column("id", _int), sa.column("uuid", _text), sa.column("rule", _text),
    sa.column("months", _int), sa.column("since", _time), sa.column("created_at", _time),
)  # fmt: skip
CHANGE_RECORD = sa.table(
    "change_record", *(sa.column(c, sa.BigInteger) for c in ("seq", "balance_sum", "transfer_count")),
    *(sa.column(c, _text) for c in ("kind", "uuid", "payload", "digest")), sa.column("created_at", _time),
)  # fmt: skip


def _when(value):
    return None if value is None else value.isoformat()


def _backfill_rules(bind):
    rows = bind.execute(sa.select(POINTS_RULE).order_by(POINTS_RULE.c.id)).mappings().all()
    if not rows:
        return
    lock = " FOR UPDATE" if bind.dialect.name == "postgresql" else ""
    head = bind.execute(
        sa.text(f"SELECT seq, digest, balance_sum, transfer_count FROM outbox_head WHERE id = 1{lock}")
    ).first()
    seq, digest, balance_sum, transfer_count = head if head is not None else (0, "", 0, 0)
    created_at = datetime.now(UTC).replace(tzinfo=None)
    records = []
    for row in rows:
        seq += 1
        body = _ENCODER.encode({
            "rule": row["rule"], "months": row["months"], "since": _when(row["since"]),
            "created_at": _when(row["created_at"]),
        })  # fmt: skip
        record = b"".join((
            b'{"kind":"points_rule","payload":', body, b',"seq":', str(seq).encode(), b',"uuid":',
            _ENCODER.encode(row["uuid"]), b"}",
        ))  # fmt: skip
        digest = hashlib.sha256(digest.encode("ascii") + record).hexdigest()
        records.append({
            "seq": seq, "kind": "points_rule", "uuid": row["uuid"], "payload": body.decode(), "digest": digest,
            "balance_sum": balance_sum, "transfer_count": transfer_count, "created_at": created_at,
        })  # fmt: skip
    bind.execute(CHANGE_RECORD.insert(), records)
    values = {"seq": seq, "digest": digest, "b": balance_sum, "t": transfer_count}
    if head is None:  # a database whose head row was never made (the change log makes it when needed)
        bind.execute(
            sa.text("INSERT INTO outbox_head (id, seq, digest, balance_sum, transfer_count) "
                    "VALUES (1, :seq, :digest, :b, :t)"),
            values,
        )  # fmt: skip
    else:
        bind.execute(sa.text("UPDATE outbox_head SET seq = :seq, digest = :digest WHERE id = 1"), values)
