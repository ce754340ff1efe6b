"""Scoring forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import FlaskForm, IntegerField, planned_day, sane_day
from ..ids import form_id
from ..org.services import MAX_APPROVALS, MAX_NOTICE_DAYS
from . import bylaws, criteria, meeting_minutes, panels, workflow
from .models import CADENCE_LABELS, Cadence


def cadence_choices():
    return [SelectChoice(str(c), CADENCE_LABELS[c]) for c in Cadence]


class CategoryForm(FlaskForm):
    name = StringField(_l("类别名称"), validators=[DataRequired(), Length(max=criteria.CATEGORY_NAME_LENGTH)])
    position = IntegerField(_l("排序"), default=0, validators=[Optional(), NumberRange(min=-9999, max=9999)])
    active = BooleanField(_l("启用"), default=True)


class CriterionForm(FlaskForm):
    name = StringField(
        _l("条目名称"), validators=[DataRequired(), Length(max=criteria.CRITERION_NAME_LENGTH)]
    )
    description = TextAreaField(_l("评分标准和佐证"), validators=[Length(max=criteria.DESCRIPTION_LENGTH)])
    points = IntegerField(
        _l("分值（扣分填负数）"),
        validators=[DataRequired(), NumberRange(min=-criteria.MAX_POINTS, max=criteria.MAX_POINTS)],
    )
    cadence = SelectField(_l("评定周期"), choices=cadence_choices)
    max_per_period = IntegerField(
        _l("每期最多次数"), default=1, validators=[NumberRange(min=1, max=criteria.MAX_TIMES)]
    )
    position = IntegerField(_l("排序"), default=0, validators=[Optional(), NumberRange(min=-9999, max=9999)])
    active = BooleanField(_l("启用"), default=True)
    claimable = BooleanField(_l("家庭可以自己申领（申领积分）"), default=False)


class RoundForm(FlaskForm):
    period_type = SelectField(_l("评定周期"), choices=cadence_choices)
    period_key = StringField(_l("期别"), validators=[DataRequired(), Length(max=10)])
    scope = SelectField(_l("范围"), choices=[], validate_choice=False)


class ObjectionForm(FlaskForm):
    #: typed or picked from a list the browser filters as one types (a datalist: no script needed)
    household = StringField(_l("农户（输入户号或户主姓名）"), validators=[DataRequired(), Length(max=60)])
    objector = StringField(_l("异议人"), validators=[DataRequired(), Length(max=workflow.OBJECTOR_LENGTH)])
    content = TextAreaField(_l("异议内容"), validators=[DataRequired(), Length(max=workflow.MAX_REASON)])


class ReasonForm(FlaskForm):
    reason = StringField(_l("原因"), validators=[DataRequired(), Length(max=workflow.MAX_REASON)])


class PanelMemberForm(FlaskForm):
    user_id = SelectField(
        _l("用户"), coerce=form_id, choices=[], validate_choice=False, validators=[DataRequired()]
    )
    label = StringField(_l("身份"), validators=[Length(max=panels.LABEL_LENGTH)])
    groups = SelectMultipleField(_l("负责的村民小组（不选为全部）"), choices=[], validate_choice=False)


class SettingsForm(FlaskForm):
    approvals_required = IntegerField(
        _l("每次评定需要的审核人数"), validators=[NumberRange(min=1, max=MAX_APPROVALS)]
    )
    notice_days = IntegerField(_l("公示天数"), validators=[NumberRange(min=1, max=MAX_NOTICE_DAYS)])


class MinutesForm(FlaskForm):
    held_on = DateField(_l("会议日期"), validators=[DataRequired(), sane_day])
    place = StringField(_l("地点"), validators=[Length(max=meeting_minutes.LENGTHS["place"])])
    panel_present = SelectMultipleField(_l("出席的评比小组成员"), choices=[], validate_choice=False)
    others_present = StringField(
        _l("其他参会人员"), validators=[Length(max=meeting_minutes.LENGTHS["others_present"])]
    )
    decisions = TextAreaField(
        _l("评定结果和决定"), validators=[Length(max=meeting_minutes.LENGTHS["decisions"])]
    )
    notes = TextAreaField(_l("其他记录"), validators=[Length(max=meeting_minutes.LENGTHS["notes"])])


class PhotoForm(FlaskForm):
    photo = FileField(
        _l("公示照片"),
        validators=[
            FileRequired(_l("请选择照片")),
            FileAllowed(["jpg", "jpeg", "png", "webp"], _l("只支持 JPG、PNG、WebP 照片")),
        ],
    )
    posted_from = DateField(_l("张贴日期"), validators=[Optional(), sane_day])
    posted_until = DateField(_l("撤下日期"), validators=[Optional(), planned_day])


class BylawsForm(FlaskForm):
    text = TextAreaField(_l("管理办法"), validators=[DataRequired(), Length(max=bylaws.MAX_LENGTH)])


class ScorePhotoForm(FlaskForm):
    """A photo of a household's score: the criterion it shows (or none) and, for 美丽庭院, before/after.
    What the file is, Pillow decides (:mod:`pointsmart.images`), not its name."""

    photo = FileField(_l("佐证照片"), validators=[FileRequired(_l("请选择照片"))])
    criterion = SelectField(_l("条目"), choices=[], validate_choice=False)
    stage = SelectField(
        _l("整改前后"),
        choices=[
            SelectChoice("", _l("不区分")),
            SelectChoice("before", _l("整改前")),
            SelectChoice("after", _l("整改后")),
        ],
    )
