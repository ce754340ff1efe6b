"""The one rule for text that comes in from outside: forms, API bodies, roster files, query parameters.

What a person can type is text; anything else is refused where it enters, with a message that names
the field, so that nothing accepted can later break an export (openpyxl refuses control characters),
a print, or a sync (PostgreSQL cannot hold NUL):

- NUL and the other C0 control characters, DEL and the C1 controls (U+0080–U+009F) are refused. A
  multi-line field (a text area: minutes, notes; a reason given through the API) allows tab, line feed
  and carriage return — browsers send a text area's line breaks as CR LF.
- Surrogates (U+D800–U+DFFF) are refused: in a Python string they are always lone halves (JSON's
  ``"\\ud800"``), which no database or file can encode.
- The noncharacters U+FFFE and U+FFFF are refused, and so are the bidirectional embeddings, overrides
  and isolates (U+202A–U+202E, U+2066–U+2069): they make a name read backwards on a page or a print.
- Invisible format characters are refused: the soft hyphen U+00AD, the zero-width space, non-joiner
  and the direction marks (U+200B, U+200C, U+200E, U+200F), U+2060–U+2064 and U+FEFF: "毛\\u200b巾"
  would be a second 毛巾. The zero-width joiner U+200D is refused in a one-line field and allowed in
  a multi-line one (it holds emoji sequences together).
- A value longer than its field allows is refused, never cut short.

The adapters apply this rule at each entry: :mod:`pointsmart.forms` (every WTForms text field),
:mod:`pointsmart.api.base` (every marshmallow string field), the roster reader, the query-parameter
guard in :mod:`pointsmart.web`, and the county's ingest. Services call :func:`checked` for values that
reach them by other ways (a raw form field, a CLI argument).

Rows written before this rule may still hold such characters; :func:`visible` is how exports show them.
"""

import re

from flask_babel import gettext as _

from .errors import Invalid

#: invisible format characters: soft hyphen, zero-width space and non-joiner, LRM/RLM, word
#: joiner and the invisible operators, byte-order mark. "毛\u200b巾" looks like 毛巾 but is another
#: name (a twin of the goods; a family the name search cannot find). The zero-width joiner (U+200D) is
#: allowed in multi-line text only, where it holds emoji sequences together (a note's 👨‍👩‍👧)
_INVISIBLE = "\u00ad\u200b\u200c\u200e\u200f\u2060-\u2064\ufeff"
_ZWJ = "\u200d"
_BIDI = "\u202a-\u202e\u2066-\u2069"
_SINGLE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}{_ZWJ}\ud800-\udfff\ufffe\uffff]")
_MULTI_LINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}\ud800-\udfff\ufffe\uffff]")
#: what openpyxl refuses in a cell, what a printed page cannot show, and what a page shows as nothing
#: or turns around (the bidi controls, the invisible characters; not the joiner inside an emoji)
_UNPRINTABLE = re.compile(
    f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}\ud800-\udfff\ufffe\uffff]"
)

#: the rule as a JSON Schema ``pattern`` (for the API's document): no character the rule refuses. Lone
#: surrogates are refused too but left out: ECMA and Rust regex engines cannot name them in a class
_REFUSED_ABOVE_ASCII = (
    "\\u007f-\\u009f\\u00ad\\u200b\\u200c\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069"
    "\\ufeff\\ufffe\\uffff"
)
SINGLE_LINE_PATTERN = f"^[^\\u0000-\\u001f\\u200d{_REFUSED_ABOVE_ASCII}]*$"
MULTI_LINE_PATTERN = f"^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f{_REFUSED_ABOVE_ASCII}]*$"

#: what :func:`checked` trims from the ends: spaces a person typed, not invisible characters (``str.strip``
#: would also drop U+001C–U+001F and U+0085, so a control at an end would be cut rather than refused)
SPACES = " \t\r\n\u3000\u00a0"

#: a query parameter (a search box, a filter, a page number) is never longer than this
MAX_QUERY_VALUE = 1000

#: a field that says nothing of its own length gets this one
DEFAULT_MAX_LENGTH = 10_000


class BadText(Invalid):
    """A text value broke the rule. ``field`` names it for programs; the message names it for people."""

    code = "invalid_text"


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def problem(value: str, *, multiline: bool = False, max_length: int | None = None) -> str | None:
    """Say what is wrong with ``value`` (a sentence without the field's name), or None if it passes."""
    found = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    if found:
        char = found.group()
        if char in "\n\r\t":
            return _("只能填一行，不能含换行或制表符")
        if "\ud800" <= char <= "\udfff":
            return _("含有无效的字符（%(char)s，不成对的代理字符）", char=codepoint(char))
        return _("含有不可见的控制字符（%(char)s），请删除", char=codepoint(char))
    limit = DEFAULT_MAX_LENGTH if max_length is None else max_length
    if len(value) > limit:
        return _("最多 %(n)s 个字，现在是 %(got)s 个", n=limit, got=len(value))
    return None


def search_text(raw, label, max_length: int) -> tuple[str, str | None]:
    """A search box's text, its spaces collapsed; or ``("", the refusal naming the box)`` when it breaks
    the text rule or is longer than ``max_length`` — never cut short without a word."""
    query = " ".join(str(raw or "").split())
    message = problem(query, max_length=max_length)
    if message:
        return "", refusal("q", label, message).message
    return query, None


def refusal(field: str, label, message: str) -> BadText:
    """The error for a bad value of ``field`` (shown to people as ``label``)."""
    return BadText(_("%(field)s：%(problem)s。", field=label or field, problem=message), field=field)


def checked(
    value, field: str, label=None, *, max_length: int | None = None, multiline: bool = False, strip=True
) -> str:
    """Return ``value`` as clean text (stripped), or refuse it naming the field.

    :raises BadText: ``value`` holds a character the rule refuses, or is longer than ``max_length``.
    """
    text = "" if value is None else str(value)
    if strip:
        text = text.strip(SPACES)
    message = problem(text, multiline=multiline, max_length=max_length)
    if message:
        raise refusal(field, label, message)
    return text


def visible(value: str) -> str:
    """Show characters a cell or a page cannot hold as visible escapes (``\\x01``, ``\\x00``, ``\\ud800``).

    For text stored before the rule: an export or a print must not fail on it, and must not hide it.
    """
    if not _UNPRINTABLE.search(value):
        return value
    return _UNPRINTABLE.sub(_escape, value)


def _escape(found: re.Match) -> str:
    number = ord(found.group())
    return f"\\x{number:02x}" if number < 0x100 else f"\\u{number:04x}"


# The county's stored form of text. PostgreSQL's text cannot hold NUL, but a village's change log may
# carry one (written before the rule, by an older version), and the county must take that record: its
# digest is checked over the record as sent, and then its text is stored in this form, read back by
# :func:`from_stored`. U+FFFF stands for NUL; U+FFFE escapes the character after it, so a U+FFFE or
# U+FFFF that was in the text itself is stored as U+FFFE U+FFFE or U+FFFE U+FFFF. Both are
# noncharacters, which no keyboard types and the rule refuses, so text without NUL is stored as it is.
STORED_NUL, STORED_ESCAPE = "\uffff", "\ufffe"
_TO_STORE = re.compile("[\x00\ufffe\uffff]")
_FROM_STORE = re.compile("\ufffe(.)|\uffff", re.DOTALL)


def to_stored(value: str) -> str:
    """Text in the county's stored form (the same text when it holds no NUL and no noncharacter)."""
    if "\x00" not in value and STORED_ESCAPE not in value and STORED_NUL not in value:
        return value  # three scans in C: the county's COPY path calls this for every value
    return _TO_STORE.sub(lambda m: STORED_NUL if m.group() == "\x00" else STORED_ESCAPE + m.group(), value)


#: the UTF-8 JSON (as :func:`pointsmart.sync.wire.canonical` writes it) of text that needs the stored form
STORED_FORM_NEEDED = (b"\\u0000", STORED_ESCAPE.encode(), STORED_NUL.encode())


def needs_stored_form(canonical_json: bytes) -> bool:
    """Whether a record's canonical JSON may hold text that :func:`to_stored` changes (a cheap scan of
    bytes already at hand; a false alarm only costs the slower, equally correct path)."""
    return any(marker in canonical_json for marker in STORED_FORM_NEEDED)


def from_stored(value: str) -> str:
    """The text :func:`to_stored` was given."""
    if STORED_NUL not in value and STORED_ESCAPE not in value:
        return value
    return _FROM_STORE.sub(lambda m: m.group(1) if m.group(1) is not None else "\x00", value)
