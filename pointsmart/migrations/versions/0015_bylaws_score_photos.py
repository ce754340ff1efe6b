"""管理办法 (the chair's text, one appended row per version) and photo evidence on scores

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 06:30:00

"""

import sqlalchemy as sa
from alembic import op

# Frozen as written: this file imports nothing from ``pointsmart``. Both tables are new: no row exists
# before this revision, so there is nothing to backfill.

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    # --- 管理办法: each save appends a version; the highest is in force -----------------------------
    op.create_table(
        "bylaws_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.Integer(), nullable=True),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_bylaws_version_version_positive")),
        sa.ForeignKeyConstraint(["saved_by"], ["user.id"], name=op.f("fk_bylaws_version_saved_by_user")),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_bylaws_version_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bylaws_version")),
        sa.UniqueConstraint("village_id", "version", name="uq_bylaws_version"),
    )
    op.create_index(op.f("ix_bylaws_version_village_id"), "bylaws_version", ["village_id"])
    # --- photos a panel member attached to a household's score in a round ---------------------------
    op.create_table(
        "score_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("round_criterion_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("size > 0", name=op.f("ck_score_photo_size_positive")),
        sa.CheckConstraint("stage IN ('', 'before', 'after')", name=op.f("ck_score_photo_stage_known")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_score_photo_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["round_criterion_id"],
            ["round_criterion.id"],
            name=op.f("fk_score_photo_round_criterion_id_round_criterion"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["scoring_round.id"], name=op.f("fk_score_photo_round_id_scoring_round")
        ),
        sa.ForeignKeyConstraint(["uploaded_by"], ["user.id"], name=op.f("fk_score_photo_uploaded_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_photo")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_score_photo_stored_name")),
    )
    op.create_index(op.f("ix_score_photo_household_id"), "score_photo", ["household_id"])
    op.create_index(op.f("ix_score_photo_round_id"), "score_photo", ["round_id"])


def downgrade():
    # The photo files under instance/uploads/scores stay on disk: a downgrade removes no one's evidence.
    op.drop_index(op.f("ix_score_photo_round_id"), table_name="score_photo")
    op.drop_index(op.f("ix_score_photo_household_id"), table_name="score_photo")
    op.drop_table("score_photo")
    op.drop_index(op.f("ix_bylaws_version_village_id"), table_name="bylaws_version")
    op.drop_table("bylaws_version")
