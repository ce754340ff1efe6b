"""管理办法: the village's rules for its points supermarket, a text the chair writes and the county
expects on the wall.

Each save appends a version (who, when); the highest version is in force and every earlier one stays
readable. The text is plain: it is shown escaped, a paragraph per line, never as HTML. When the village
has none yet, the chair starts from :func:`starter_text`, a draft she adapts. Writes flush and audit;
the caller commits.
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import record
from ..errors import Invalid, NotFound
from ..org.models import Village
from ..text import checked
from .models import BylawsVersion

#: the longest text a version holds (a 管理办法 is two or three printed pages)
MAX_LENGTH = 20_000
#: a line that opens a part of the text: 一、 二、 … or 第一条 … (or, in an English text, 1. or Article 1)
_HEADING = re.compile(
    r"^(?:[一二三四五六七八九十]+、|第[一二三四五六七八九十百]+[章条]|[0-9]{1,2}\.\s|Article\s+[0-9])"
)


def in_force(session: Session, village_id: int) -> BylawsVersion | None:
    """The latest version, or None when the chair has written none."""
    return session.scalar(
        sa.select(BylawsVersion)
        .where(BylawsVersion.village_id == village_id)
        .order_by(BylawsVersion.version.desc())
        .limit(1)
    )


def versions(session: Session, village_id: int) -> list[BylawsVersion]:
    """Every version, the newest first."""
    return list(
        session.scalars(
            sa.select(BylawsVersion)
            .where(BylawsVersion.village_id == village_id)
            .order_by(BylawsVersion.version.desc())
        )
    )


def get_version(session: Session, village_id: int, version: int) -> BylawsVersion:
    """:raises NotFound: the village has no such version."""
    found = session.scalar(
        sa.select(BylawsVersion).where(
            BylawsVersion.village_id == village_id, BylawsVersion.version == version
        )
    )
    if found is None:
        raise NotFound(_("没有这一版管理办法。"), code="unknown_version")
    return found


def save(session: Session, village_id: int, text: str, actor_id: int | None) -> BylawsVersion | None:
    """Append a version of the text; None when it is the same as the one in force (nothing saved).

    :raises BadText: a control character, or longer than :data:`MAX_LENGTH`.
    :raises Invalid: the text is empty.
    """
    text = checked(text, "text", _("管理办法"), max_length=MAX_LENGTH, multiline=True)
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    if not text:
        raise Invalid(_("管理办法：请填写内容。"), code="empty_text", field="text")
    # versions are numbered under a lock: SQLite's write lock, and on PostgreSQL the village's row (two
    # saves at the same moment number one after the other; the unique (village, version) backs it up)
    session.execute(sa.select(Village.id).where(Village.id == village_id).with_for_update())
    current = in_force(session, village_id)
    if current is not None and current.text == text:
        return None
    saved = BylawsVersion(
        village_id=village_id,
        version=(current.version + 1) if current else 1,
        text=text,
        saved_by=actor_id,
    )
    session.add(saved)
    session.flush()
    record(
        session,
        "scoring.bylaws.saved",
        actor_id,
        saved,
        version=saved.version,
        length=len(text),
        previous=current.version if current else None,
    )
    return saved


@dataclass(frozen=True)
class Paragraph:
    text: str
    heading: bool


def paragraphs(text: str) -> list[Paragraph]:
    """The text as paragraphs, one per non-empty line; a line opening a part (一、 第一条) is a heading."""
    lines = (line.strip() for line in text.split("\n"))
    return [Paragraph(line, bool(_HEADING.match(line))) for line in lines if line]


def titled(found: list[Paragraph]) -> tuple[str, list[Paragraph]]:
    """Split off the text's own title (a short first line, not a sentence, not a part's heading), so a
    poster prints it once as its title; ``("", paragraphs)`` when the text opens without one."""
    if found and not found[0].heading and len(found[0].text) <= 40 and found[0].text[-1] not in "。；：.;:":
        return found[0].text, found[1:]
    return "", found


def starter_text(village_name: str) -> str:
    """A draft 管理办法 for a village that has none: the chair reads it, adapts it, and saves it."""
    return _(
        """%(village)s巾帼家美积分超市管理办法

一、目的
为引导广大家庭崇德向善、勤劳致富、美化庭院、和睦邻里，推动移风易俗和乡村治理，村妇联设立巾帼家美积分超市，以积分激励家庭参与村里的各项工作。

二、适用范围
本村户籍及常住的农户，以户为单位建立积分账户，每户发一张积分卡。

三、组织管理
（一）村妇联牵头成立评分领导小组，由村妇联主席、执委、驻村干部和群众代表组成，负责打分、评定、公示、处理异议和监督兑换。
（二）积分超市由专人管理，负责物资入库、兑换登记和每月盘点。

四、积分评定
（一）按张贴上墙的《积分评定细则》打分，分为月评定、季评定和半年评定。
（二）评分领导小组成员分片入户查看，逐户打分，必要时拍照留存佐证；美丽庭院类条目拍整改前、整改后的照片。
（三）打分结果经评分领导小组会议审核，形成会议记录。
（四）评定结果在村务公开栏公示，公示期内村民可向村妇联主席或评分领导小组成员提出异议，核实后予以更正；公示期满无异议的积分记入各户积分卡。

五、积分兑换
（一）农户凭积分卡在超市开放日兑换物品，物品所需积分以超市公布的分值对应表为准。
（二）兑换时当面核对积分，登记兑换台账，由兑换人签字确认。
（三）积分只能兑换物品，不能兑换现金，不得转让。

六、积分有效期
积分按系统设置的到期规则清零或过期，到期前由村妇联提醒农户及时兑换。

七、物资管理
超市物资来源于上级配送、爱心捐赠和村集体采购，入库、出库逐笔登记，每月盘点，做到账物相符；捐赠物资登记捐赠人和去向，在爱心榜公示。

八、监督
（一）积分评定、兑换和物资情况每月公开，接受群众监督。
（二）评分领导小组成员与被评农户有亲属关系的，应当回避。
（三）弄虚作假、优亲厚友的，一经查实，取消相应积分，并追究有关人员责任。

九、附则
本办法由村妇联负责解释，经村民代表会议讨论通过后施行。""",
        village=village_name,
    )
