"""score photos reach the county as metadata (kind 'score_photo'): the sha256 of each stored file, the
county's table, and the change log's records of the photos attached before

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 10:40:00

"""

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import sqlalchemy as sa
from alembic import op
from flask import current_app

# Frozen as written: this file imports nothing from ``pointsmart``. The change log's records of the
# score photos attached before this revision are written below in the wire form of this day: the
# photo's id derived from its row as ``scoring.score_photos.score_photo_uuid`` derives it, the criterion named by
# the rulebook's uuid and by its name as the round kept it. The files' sha256 is read from the instance
# folder (``uploads/scores``); a file that is missing leaves it None.

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    # --- the village: the stored file's sha256 -------------------------------------------------------
    with op.batch_alter_table("score_photo", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
    # --- the county: what it now receives -----------------------------------------------------------
    op.create_table(
        "synced_score_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("round_uuid", sa.String(length=36), nullable=False),
        sa.Column("household_uuid", sa.String(length=36), nullable=False),
        sa.Column("criterion_uuid", sa.String(length=36), nullable=True),
        sa.Column("criterion_name", sa.String(length=100), nullable=True),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_synced_score_photo_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synced_score_photo")),
        sa.UniqueConstraint("village_id", "uuid", name=op.f("uq_synced_score_photo_village_id_uuid")),
    )
    with op.batch_alter_table("synced_score_photo", schema=None) as batch_op:
        batch_op.create_index("ix_synced_score_photo_round", ["village_id", "round_uuid"], unique=False)

    # --- the change log: the photos attached before it carried them ----------------------------------
    _backfill_score_photos(op.get_bind())


def downgrade():
    # The change log keeps the score photo records written since 0018: it is history, append-only (the
    # database refuses to delete from it), and the county may have them already.
    with op.batch_alter_table("synced_score_photo", schema=None) as batch_op:
        batch_op.drop_index("ix_synced_score_photo_round")
    op.drop_table("synced_score_photo")
    with op.batch_alter_table("score_photo", schema=None) as batch_op:
        batch_op.drop_column("sha256")


# --- the backfill: one change record for each score photo, after the head ----------------------------
#
# As 0013 wrote its records: a record's canonical bytes are {"kind", "payload", "seq", "uuid"} as
# compact JSON with keys sorted at every level; its digest is sha256(previous digest + those bytes);
# each record carries the village's totals as of itself, which a photo's record does not move.

_ENCODER = msgspec.json.Encoder(order="sorted")
_NAMESPACE = uuid.UUID("5b0f7d2e-6f43-4c1e-9a57-0d1c3e6a9b21")
_int, _text, _time = sa.Integer, sa.String, sa.DateTime
SCORE_PHOTO = sa.table(
    "score_photo", sa.column("id", _int), sa.column("round_id", _int), sa.column("household_id", _int),
    sa.column("round_criterion_id", _int), sa.column("stage", _text), sa.column("stored_name", _text),
    sa.column("size", _int), sa.column("public", sa.Boolean), sa.column("uploaded_at", _time),
    sa.column("sha256", _text),
)  # fmt: skip
ROUND = sa.table("scoring_round", sa.column("id", _int), sa.column("uuid", _text))
HOUSEHOLD = sa.table("household", sa.column("id", _int), sa.column("uuid", _text))
ROUND_CRITERION = sa.table(
    "round_criterion", sa.column("id", _int), sa.column("criterion_id", _int), sa.column("name", _text)
)
CRITERION = sa.table("criterion", sa.column("id", _int), sa.column("uuid", _text))
CHANGE_RECORD = sa.table(
    "change_record", *(sa.column(c, sa.BigInteger) for c in ("seq", "balance_sum", "transfer_count")),
    *(sa.column(c, _text) for c in ("kind", "uuid", "payload", "digest")), sa.column("created_at", _time),
)  # fmt: skip


def _when(value):
    return None if value is None else value.isoformat()


def _file_sha256(folder: Path, stored_name: str) -> str | None:
    path = folder / stored_name
    if stored_name != path.name or not path.is_file():  # a plain name under the folder, as stored
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _backfill_score_photos(bind):
    folder = Path(current_app.instance_path) / "uploads" / "scores"
    rows = (
        bind.execute(
            sa.select(
                SCORE_PHOTO,
                ROUND.c.uuid.label("round_uuid"),
                HOUSEHOLD.c.uuid.label("household_uuid"),
                CRITERION.c.uuid.label("criterion_uuid"),
                ROUND_CRITERION.c.name.label("criterion_name"),
            )
            .join(ROUND, ROUND.c.id == SCORE_PHOTO.c.round_id)
            .join(HOUSEHOLD, HOUSEHOLD.c.id == SCORE_PHOTO.c.household_id)
            .outerjoin(ROUND_CRITERION, ROUND_CRITERION.c.id == SCORE_PHOTO.c.round_criterion_id)
            .outerjoin(CRITERION, CRITERION.c.id == ROUND_CRITERION.c.criterion_id)
            .order_by(SCORE_PHOTO.c.id)
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
        sha256 = _file_sha256(folder, row["stored_name"])
        bind.execute(SCORE_PHOTO.update().where(SCORE_PHOTO.c.id == row["id"]).values(sha256=sha256))
        seq += 1
        photo_uuid = str(uuid.uuid5(_NAMESPACE, f"score_photo:{row['id']}"))
        body = _ENCODER.encode({
            "round": row["round_uuid"], "household": row["household_uuid"],
            "criterion": row["criterion_uuid"], "criterion_name": row["criterion_name"],
            "stage": row["stage"], "taken_at": _when(row["uploaded_at"]), "public": bool(row["public"]),
            "sha256": sha256, "size": row["size"], "deleted": False,
        })  # fmt: skip
        record = b"".join((
            b'{"kind":"score_photo","payload":', body, b',"seq":', str(seq).encode(), b',"uuid":',
            _ENCODER.encode(photo_uuid), b"}",
        ))  # fmt: skip
        digest = hashlib.sha256(digest.encode("ascii") + record).hexdigest()
        records.append({
            "seq": seq, "kind": "score_photo", "uuid": photo_uuid, "payload": body.decode(),
            "digest": digest, "balance_sum": balance_sum, "transfer_count": transfer_count,
            "created_at": created_at,
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
