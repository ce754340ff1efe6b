"""The settings page's forms: the county link and backups, the year-end rule for points, the shop's
opening days."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, SelectMultipleField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import FlaskForm, IntegerField
from .expiry import LABELS as RULE_FIELD_LABELS
from .expiry import RULE_LABELS, RULES
from .models import MAX_RULE_MONTHS, PointsRuleKind
from .opening_days import LABEL as DAYS_LABEL
from .opening_days import WEEKDAY_LABELS
from .services import MAX_COUNTY_URL, MAX_KEEP_DAYS, MAX_SYNC_KEY


class SettingsForm(FlaskForm):
    county_url = StringField(
        _l("县里的地址"),
        validators=[Length(max=MAX_COUNTY_URL)],
        render_kw={"autocomplete": "off", "inputmode": "url"},
    )
    #: never filled from the database: the stored key is shown only by its last 4 characters
    sync_key = StringField(
        _l("同步密钥"),
        validators=[Length(max=MAX_SYNC_KEY)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"},
    )
    clear_key = BooleanField(_l("删除已保存的同步密钥"))
    backup_daily = BooleanField(_l("每天自动备份"))
    backup_keep_days = IntegerField(
        _l("备份保留天数"),
        invalid_value_message=_l("请填写一个整数"),
        validators=[
            InputRequired(_l("请填天数")),
            NumberRange(min=1, max=MAX_KEEP_DAYS, message=_l("请填 1 到 %(max)s 之间的天数。")),
        ],
        render_kw={"min": 1, "max": MAX_KEEP_DAYS, "inputmode": "numeric"},
    )


class PointsRuleForm(FlaskForm):
    """The chair's 积分到期规则; the months count only for the N-months rule (the service checks they
    are there)."""

    rule = RadioField(
        RULE_FIELD_LABELS["rule"],
        choices=[SelectChoice(rule, RULE_LABELS[rule]) for rule in RULES],
        validators=[InputRequired(_l("请选择一种规则"))],
    )
    months = IntegerField(
        RULE_FIELD_LABELS["months"],
        invalid_value_message=_l("请填写一个整数"),
        validators=[
            Optional(),
            NumberRange(min=1, max=MAX_RULE_MONTHS, message=_l("请填 1 到 %(max)s 之间的月数。")),
        ],
        render_kw={"min": 1, "max": MAX_RULE_MONTHS, "inputmode": "numeric"},
    )

    def validate(self, extra_validators=None):
        """The months are read only for the N-months rule: for 一直有效 or 年底清零 whatever the field
        holds (a "1.5" refused a moment ago) is ignored, not refused."""
        valid = super().validate(extra_validators)
        if self.rule.data != PointsRuleKind.MONTHS:
            self.months.errors = []
            self.months.data = None
            self._errors = None
            valid = not self.errors
        return valid


class WeekdaysField(SelectMultipleField):
    """Ticks for 周一 … 周日; anything but each weekday at most once is refused in words (never echoed)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        values = self.data or []
        if len(values) > len(self.choices) or len(set(values)) != len(values):
            raise ValidationError(_l("只能勾选周一到周日，每天一次。"))
        allowed = {str(day) for day in WEEKDAY_LABELS}
        if any(value not in allowed for value in values):
            raise ValidationError(_l("只能勾选周一到周日，每天一次。"))


class OpeningDaysForm(FlaskForm):
    """The shop's opening days (营业日): none ticked is "not set", the county then does not check them."""

    days = WeekdaysField(
        DAYS_LABEL,
        choices=[SelectChoice(str(day), label) for day, label in WEEKDAY_LABELS.items()],
        coerce=str,
    )
