"""Log-in, password and user forms."""

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from ..forms import FlaskForm
from .models import ROLE_LABELS
from .services import (
    MAX_DISPLAY_NAME,
    MAX_PASSWORD,
    MAX_TOKEN_NAME,
    MAX_USERNAME,
    MIN_PASSWORD,
    VILLAGE_ROLES,
)

#: a new password: required, between the service's shortest and longest
_NEW_PASSWORD = [DataRequired(), Length(min=MIN_PASSWORD, max=MAX_PASSWORD)]


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(), Length(max=MAX_USERNAME)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])


class PasswordForm(FlaskForm):
    old = PasswordField(_l("原密码"), validators=[DataRequired()])
    new = PasswordField(_l("新密码"), validators=_NEW_PASSWORD)
    confirm = PasswordField(
        _l("再次输入新密码"),
        validators=[DataRequired(), EqualTo("new", message=_l("两次输入的新密码不一致"))],
    )


class UserForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(), Length(min=2, max=MAX_USERNAME)])
    display_name = StringField(_l("姓名"), validators=[Length(max=MAX_DISPLAY_NAME)])
    role = SelectField(_l("角色"), choices=[SelectChoice(str(r), ROLE_LABELS[r]) for r in VILLAGE_ROLES])
    password = PasswordField(_l("初始密码"), validators=_NEW_PASSWORD)


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("新密码"), validators=_NEW_PASSWORD)


class TokenForm(FlaskForm):
    name = StringField(_l("密钥名称"), validators=[Length(max=MAX_TOKEN_NAME)])
