"""The village's photo storage: every photo it keeps (score evidence, notice photos, families' claim
photos) against one
limit, ``POINTSMART_PHOTO_STORAGE_MB`` — so a busy month cannot fill the village PC's disk.
"""

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..org.models import Village
from .errors import ScoringError
from .models import NoticePhoto, ScorePhoto, ScoringRound

#: Each kind of photo the village keeps: ``village_id -> (model, owner column, the owners' ids)``. Scoring
#: registers its two below; claims registers its own (:mod:`pointsmart.claims`), so this module never
#: imports the packages above it.
PHOTO_KINDS: list[Callable[[int], tuple]] = []


def register(kind: Callable[[int], tuple]) -> Callable[[int], tuple]:
    """Count the photos of ``kind`` in :func:`storage` (a decorator)."""
    PHOTO_KINDS.append(kind)
    return kind


@register
def _score_photos(village_id: int) -> tuple:
    rounds = sa.select(ScoringRound.id).where(ScoringRound.village_id == village_id)
    return ScorePhoto, ScorePhoto.round_id, rounds


@register
def _notice_photos(village_id: int) -> tuple:
    rounds = sa.select(ScoringRound.id).where(ScoringRound.village_id == village_id)
    return NoticePhoto, NoticePhoto.round_id, rounds


@dataclass(frozen=True)
class Storage:
    """What the village's photos take on disk, against its limit (bytes)."""

    used: int
    limit: int
    photos: int

    @property
    def share(self) -> int:
        """Percent of the limit used (whole, at most 100)."""
        return min(100, self.used * 100 // self.limit) if self.limit else 100

    @staticmethod
    def mb(n: int) -> str:
        """Bytes as MB: one decimal, two under 1 MB (a few small photos are not "0.0 MB")."""
        mb = n / 1024 / 1024
        return f"{mb:.1f}" if mb >= 1 or n == 0 else f"{mb:.2f}"


def storage(session: Session, village_id: int, limit: int) -> Storage:
    """Every photo the village keeps — score evidence, notice photos, claim photos — and their bytes."""
    used, count = 0, 0
    for model, owner, owners in (kind(village_id) for kind in PHOTO_KINDS):
        size, n = session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(model.size), 0), sa.func.count(model.id)).where(
                owner.in_(owners)
            )
        ).one()
        used, count = used + int(size), count + int(n)
    return Storage(used, limit, count)


def require_room(session: Session, village_id: int, limit: int, size: int) -> None:
    """Refuse a photo of ``size`` bytes that would take the village past its limit. The caller holds
    the write lock (the village's row is locked here on PostgreSQL), so two uploads cannot both fit.

    :raises ScoringError: ``storage_full``.
    """
    session.execute(sa.select(Village.id).where(Village.id == village_id).with_for_update())
    held = storage(session, village_id, limit)
    if held.used + size > limit:
        raise ScoringError(
            _(
                "照片存储空间已满：本村已用 %(used)s MB，上限 %(limit)s MB，这张照片放不下。"
                "请妇联主席删除不再需要的照片，或请管理员调高上限。",
                used=Storage.mb(held.used),
                limit=Storage.mb(limit),
            ),
            code="storage_full",
            status=413,
        )


def limit_bytes(config) -> int:
    """The configured limit in bytes (``POINTSMART_PHOTO_STORAGE_MB``, which may be a fraction)."""
    return int(float(config["POINTSMART_PHOTO_STORAGE_MB"]) * 1024 * 1024)
