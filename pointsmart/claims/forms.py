"""The family's claim form and the panel's answers."""

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ..forms import FULL_WIDTH_NUMBER, FlaskForm, IntegerField, Readable, sane_day
from ..ids import form_id
from ..scoring.criteria import MAX_TIMES
from .services import NOTE_LENGTH, REASON_LENGTH


def _chosen_id(value) -> int | None:
    """The select's "请选择" (an empty value) is no choice; anything else an id (:func:`form_id`), its
    digits ASCII or full-width (１ is 1), as every whole number the project reads."""
    if value in ("", None):
        return None
    return form_id(value.translate(FULL_WIDTH_NUMBER) if isinstance(value, str) else value)


class ClaimForm(FlaskForm):
    criterion_id = SelectField(
        _l("申领的积分条目"),
        coerce=_chosen_id,
        choices=[],
        validate_choice=False,
        validators=[InputRequired(), Readable(_l("没有这个积分条目，请从列表里选择。"))],
    )
    happened_on = DateField(
        _l("日期"),
        validators=[InputRequired(), Readable(_l("不是有效的日期，请按 2026-12-01 的样子填写。")), sane_day],
    )
    note = TextAreaField(_l("说明"), validators=[Length(max=NOTE_LENGTH)])
    photos = MultipleFileField(_l("照片（最多 3 张，可不传）"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the phone checks the request's size before sending (static/js/claim-photos.js): over it, the
        # server never reads the body and what the family typed would be lost
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        self.photos.render_kw = {"data-max-bytes": limit, "data-too-large": too_large_message(limit)}


def too_large_message(limit: int) -> str:
    """What a family reads when its claim is over the request limit (``MAX_CONTENT_LENGTH``)."""
    return _(
        "照片合起来超过了 %(mb)s MB，一次传不了。请少选几张照片，或选小一些的照片（用手机“压缩”或降低像素）"
        "后再提交。",
        mb=limit // 1024 // 1024,
    )


class AcceptForm(FlaskForm):
    #: the cell's total after accepting (the form reads "本格现在 2 次，采纳后 [3] 次")
    times = IntegerField(_l("采纳后次数"), validators=[InputRequired(), NumberRange(min=1, max=MAX_TIMES)])
    #: what the form showed the cell holding: a grid change since then is refused, not added over
    seen = IntegerField(
        _l("本格现在的次数"),
        validators=[
            InputRequired(_l("表单没有带上本格现在的次数，请刷新页面，看清本格的次数后再采纳。")),
            NumberRange(min=0, max=MAX_TIMES),
        ],
    )


class DeclineForm(FlaskForm):
    reason = StringField(_l("不采纳的原因"), validators=[DataRequired(), Length(max=REASON_LENGTH)])
