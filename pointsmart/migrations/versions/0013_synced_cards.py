"""cards reach the county (a hash of the token, never the token), so it can serve the family's page

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:40:00

"""

import hashlib
import hmac
import uuid
from datetime import UTC, datetime

import msgspec
import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. The change log's records of the
# cards issued before this revision are written below in the wire form of this day: the token's
# HMAC-SHA256 under the fixed key of ``cards.services.token_digest``, and the card's id derived from
# its row as ``sync.kinds.card_uuid`` derives it.

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # --- the county: what it now receives -----------------------------------------------------------
    op.create_table(
        "synced_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("household_uuid", sa.String(length=36), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["village_id"], ["village.id"], name=op.f("fk_synced_card_village_id_village")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synced_card")),
        sa.UniqueConstraint("village_id", "uuid", name=op.f("uq_synced_card_village_id_uuid")),
    )
    with op.batch_alter_table("synced_card", schema=None) as batch_op:
        batch_op.create_index("ix_synced_card_token_digest", ["token_digest"], unique=False)
    # the village's LAN address, sent with each push: the county's family page links there for claims
    with op.batch_alter_table("village_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("village_url", sa.String(length=200), server_default="", nullable=False))

    # --- the change log: the cards issued before it carried them -------------------------------------
    _backfill_cards(op.get_bind())


def downgrade():
    # The change log keeps the card records written since 0013: it is history, append-only (the
    # database refuses to delete from it), and the county may have them already.
    with op.batch_alter_table("village_link", schema=None) as batch_op:
        batch_op.drop_column("village_url")
    with op.batch_alter_table("synced_card", schema=None) as batch_op:
        batch_op.drop_index("ix_synced_card_token_digest")
    op.drop_table("synced_card")


# --- the backfill: one change record for each card, after the head ------------------------------
#
# As 0011 wrote its records: a record's canonical bytes are {"kind", "payload", "seq", "uuid"} as
# compact JSON with keys sorted at every level; its digest is sha256(previous digest + those bytes);
# each record carries the village's totals as of itself, which a card's record does not move.

_ENCODER = msgspec.json.Encoder(order="sorted")
_TOKEN_KEY = b"pointsmart card token v1"
_NAMESPACE = uuid.UUID("5b0f7d2e-6f43-4c1e-9a57-0d1c3e6a9b21")
_int, _text, _time = sa.Integer, sa.String, sa.DateTime
CARD = sa.table(
    "card", sa.column("id", _int), sa.column("household_id", _int), sa.column("token", _text),
    sa.column("status", _text), sa.column("issued_at", _time), sa.column("revoked_at", _time),
)  # fmt: skip
HOUSEHOLD = sa.table("household", sa.column("id", _int), sa.column("uuid", _text))
CHANGE_RECORD = sa.table(
    "change_record", *(sa.column(c, sa.BigInteger) for c in ("seq", "balance_sum", "transfer_count")),
    *(sa.column(c, _text) for c in ("kind", "uuid", "payload", "digest")), sa.column("created_at", _time),
)  # fmt: skip


def _when(value):
    return None if value is None else value.isoformat()


def _backfill_cards(bind):
    rows = (
        bind.execute(
            sa.select(CARD, HOUSEHOLD.c.uuid.label("household_uuid"))
            .join(HOUSEHOLD, HOUSEHOLD.c.id == CARD.c.household_id)
            .order_by(CARD.c.id)
        )
        .mappings()
        .all()
    )
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
        card_uuid = str(uuid.uuid5(_NAMESPACE, f"card:{row['id']}"))
        body = _ENCODER.encode({
            "household": row["household_uuid"],
            "token_digest": hmac.new(_TOKEN_KEY, row["token"].encode(), hashlib.sha256).hexdigest(),
            "status": row["status"], "issued_at": _when(row["issued_at"]), "revoked_at": _when(row["revoked_at"]),
        })  # fmt: skip
        record = b"".join((
            b'{"kind":"card","payload":', body, b',"seq":', str(seq).encode(), b',"uuid":',
            _ENCODER.encode(card_uuid), b"}",
        ))  # fmt: skip
        digest = hashlib.sha256(digest.encode("ascii") + record).hexdigest()
        records.append({
            "seq": seq, "kind": "card", "uuid": card_uuid, "payload": body.decode(), "digest": digest,
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
