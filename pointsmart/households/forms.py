"""Household forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import FlaskForm, IntegerField
from .services import LIMITS, MAX_ADJUSTMENT, MAX_MEMBERS, MAX_REASON, MIN_MEMBERS


class HouseholdForm(FlaskForm):
    household_no = StringField(_l("户号"), validators=[DataRequired(), Length(max=LIMITS["household_no"])])
    head_name = StringField(_l("户主姓名"), validators=[DataRequired(), Length(max=LIMITS["head_name"])])
    group = StringField(_l("村民小组"), validators=[Length(max=LIMITS["group"])])
    phone = StringField(_l("联系电话"), validators=[Length(max=LIMITS["phone"])])
    members = IntegerField(
        _l("家庭人口"), validators=[Optional(), NumberRange(min=MIN_MEMBERS, max=MAX_MEMBERS)]
    )
    address = StringField(_l("住址"), validators=[Length(max=LIMITS["address"])])
    tags = StringField(_l("标签"), validators=[Length(max=LIMITS["tags"])])


class AdjustmentForm(FlaskForm):
    points = IntegerField(
        _l("积分（扣分填负数）"),
        validators=[
            DataRequired(message=_l("请填写非零整数")),
            NumberRange(min=-MAX_ADJUSTMENT, max=MAX_ADJUSTMENT),
        ],
    )
    reason = StringField(
        _l("原因"), validators=[DataRequired(message=_l("请填写原因")), Length(max=MAX_REASON)]
    )


class ReverseForm(FlaskForm):
    reason = StringField(
        _l("撤销原因"), validators=[DataRequired(message=_l("请填写原因")), Length(max=MAX_REASON)]
    )


class ImportForm(FlaskForm):
    file = FileField(
        _l("名册文件（.xlsx 或 .csv）"),
        validators=[
            FileRequired(_l("请选择文件")),
            FileAllowed(["xlsx", "xlsm", "csv"], _l("只支持 .xlsx 和 .csv 文件")),
        ],
    )
