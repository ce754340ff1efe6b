"""The short printable 使用说明 of each role: what to do each day, each month, and when something goes
wrong. Pure text (templates/help/); the routes live on the auth blueprint, beside the roles."""

from flask_babel import lazy_gettext as _l

from .models import Role

#: page key → (title, the roles whose own page it is)
GUIDES = {
    "chair": (_l("妇联主席使用说明"), (Role.CHAIR,)),
    "panel": (_l("评比小组成员使用说明"), (Role.PANEL,)),
    "shopkeeper": (_l("超市管理员使用说明"), (Role.SHOPKEEPER,)),
    "county": (_l("县级审核员使用说明"), (Role.COUNTY_REVIEWER, Role.COUNTY_ADMIN)),
}


def guide_for(role: str) -> str:
    """The key of the guide written for ``role``."""
    return next((key for key, (_title, roles) in GUIDES.items() if role in roles), "chair")
