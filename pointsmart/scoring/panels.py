"""The scoring panel (评分小组): who scores and approves, and which 村民小组 each member scores.
Functions flush, never commit.
"""

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import changes, record
from ..auth.models import Role, User
from ..errors import Invalid
from ..text import checked
from .models import (
    PanelMember,
)


def panel_members(session: Session, village_id: int) -> list[PanelMember]:
    return list(
        session.scalars(
            sa.select(PanelMember).join(User).where(User.village_id == village_id).order_by(PanelMember.id)
        )
    )


def membership(session: Session, user_id: int) -> PanelMember | None:
    return session.scalar(sa.select(PanelMember).where(PanelMember.user_id == user_id))


#: the longest label (身份) of a panel member, 村民小组 name, and list of groups a member keeps
LABEL_LENGTH, GROUP_LENGTH, GROUPS_LENGTH = 20, 40, 200


def set_panel_member(
    session: Session, user: User, label: str, groups: list[str], actor_id: int
) -> PanelMember:
    """Put a user on the panel (or change their label and groups)."""
    if user.role not in (Role.CHAIR, Role.PANEL) or not user.active:
        raise Invalid(_("只有妇联主席和评比小组成员账号可以加入评比小组。"), code="bad_role")
    chosen = list(dict.fromkeys(checked(g, "groups", _("村民小组"), max_length=GROUP_LENGTH) for g in groups))
    new = {
        "label": checked(label, "label", _("身份"), max_length=LABEL_LENGTH),
        "groups": checked(
            ",".join(g for g in chosen if g), "groups", _("村民小组"), max_length=GROUPS_LENGTH
        ),
    }
    member = membership(session, user.id)
    if member is None:
        member = PanelMember(user_id=user.id, **new)
        session.add(member)
        session.flush()
        record(session, "scoring.panel.added", actor_id, member, user=user.username, new=new)
        return member
    diff = changes({"label": member.label, "groups": member.groups}, new)
    if diff["new"]:
        member.label, member.groups = new["label"], new["groups"]
        record(session, "scoring.panel.updated", actor_id, member, user=user.username, **diff)
    return member


def remove_panel_member(session: Session, member: PanelMember, actor_id: int) -> None:
    record(session, "scoring.panel.removed", actor_id, member, user=member.user.username)
    session.delete(member)
