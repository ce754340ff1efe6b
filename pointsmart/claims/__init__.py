"""Families' own claims (申领积分): from the card page a family claims a criterion the chair marked
claimable, with a date, a note and up to three photos; the panel accepts it into the round's grid
(through the ordinary score service) or declines it with a reason. Above cards, households and
scoring, which it uses; nothing below imports it."""

import sqlalchemy as sa

from ..scoring.photo_storage import register
from .models import Claim, ClaimPhoto


@register
def _claim_photos(village_id: int) -> tuple:
    """Families' claim photos count against the village's photo storage too."""
    return ClaimPhoto, ClaimPhoto.claim_id, sa.select(Claim.id).where(Claim.village_id == village_id)
