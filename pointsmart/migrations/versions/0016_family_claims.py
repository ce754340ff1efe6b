"""families' own claims (申领积分): a claimable flag on criteria, the claims and their photos

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 06:40:00

"""

import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. Claims are village-local (not in
# the change log) and new: no backfill. The flag defaults to false: no criterion is claimable until
# the chair marks it, and the criterion's sync payload does not carry it.

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("criterion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimable", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("round_criterion_id", sa.Integer(), nullable=False),
        sa.Column("happened_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("times", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'declined')", name=op.f("ck_claim_status_known")
        ),
        sa.CheckConstraint("times IS NULL OR times >= 0", name=op.f("ck_claim_times_not_negative")),
        sa.ForeignKeyConstraint(["card_id"], ["card.id"], name=op.f("fk_claim_card_id_card")),
        sa.ForeignKeyConstraint(
            ["criterion_id"], ["criterion.id"], name=op.f("fk_claim_criterion_id_criterion")
        ),
        sa.ForeignKeyConstraint(["decided_by"], ["user.id"], name=op.f("fk_claim_decided_by_user")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_claim_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["round_criterion_id"],
            ["round_criterion.id"],
            name=op.f("fk_claim_round_criterion_id_round_criterion"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["scoring_round.id"], name=op.f("fk_claim_round_id_scoring_round")
        ),
        sa.ForeignKeyConstraint(["village_id"], ["village.id"], name=op.f("fk_claim_village_id_village")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim")),
    )
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claim_round_id"), ["round_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claim_village_id"), ["village_id"], unique=False)
    op.create_table(
        "claim_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"], name=op.f("fk_claim_photo_claim_id_claim")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_photo")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_claim_photo_stored_name")),
    )
    with op.batch_alter_table("claim_photo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_photo_claim_id"), ["claim_id"], unique=False)


def downgrade():
    # the photo files under instance/uploads/claims stay on disk: a downgrade never deletes evidence
    op.drop_table("claim_photo")
    op.drop_table("claim")
    with op.batch_alter_table("criterion", schema=None) as batch_op:
        batch_op.drop_column("claimable")
