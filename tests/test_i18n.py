"""English: every Chinese source string translated, placeholders kept, and chosen by cookie or browser.

The source strings are Chinese (the default locale); ``pointsmart/translations/en`` holds the English.
When a test here lists missing or stale strings, run ``make translations-update`` (``pybabel extract``
with ``babel.cfg``, then ``pybabel update``), translate what it lists in the .po, and ``make translations``.
"""

import html
import io
import re
from functools import cache
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "pointsmart" / "translations"
POT = TRANSLATIONS / "messages.pot"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
FIX = f"Run `make translations-update`, then translate every listed entry in {PO.relative_to(ROOT)}."

#: Han characters and CJK / full-width punctuation ("：", "；", "（"): none belong on an English page
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")
#: the link back to Chinese is named in Chinese on purpose, so that a Chinese reader can find it
LANGUAGE_LINK = "中文"
PLACEHOLDER = re.compile(r"%\((\w+)\)")


# --- the catalogue against the sources ---------------------------------------------------------------


@cache
def _extracted() -> dict[str, list[str]]:
    """Every msgid the sources mark for translation (as ``babel.cfg`` says), with where it is used."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(ROOT / "babel.cfg"))
    found: dict[str, list[str]] = {}
    for filename, lineno, message, *_rest in extract_from_dir(str(ROOT), method_map, options_map):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def _msgid(message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def _catalogue(path: Path = PO):
    with open(path, "rb") as f:
        return read_po(f)


def _entries(catalogue) -> dict:
    return {_msgid(m): m for m in catalogue if m.id}


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def test_extraction_finds_the_strings_of_templates_and_code():
    found = _extracted()
    sources = {place.split(":")[0].split("/")[0] for places in found.values() for place in places}
    assert {"templates", "pointsmart"} <= sources
    assert "登录" in found  # a template's _()
    assert "请先登录。" in found  # a lazy_gettext (_l) at import time in pointsmart/auth/access.py


def test_every_source_string_has_an_english_translation():
    catalogue = _catalogue()
    assert not catalogue.fuzzy, f"the header of {PO.name} is marked fuzzy: pybabel compile would skip it"
    entries = _entries(catalogue)
    problems = []
    for msgid, places in sorted(_extracted().items()):
        message = entries.get(msgid)
        if message is None:
            problems.append(f"{places[0]}: {msgid!r} is not in the catalogue")
        elif message.fuzzy:
            problems.append(f"{places[0]}: {msgid!r} is marked fuzzy (check the English, then drop the flag)")
        elif not all(s.strip() for s in _strings(message)):
            problems.append(f"{places[0]}: {msgid!r} has no English")
    assert not problems, f"{len(problems)} string(s) without English. {FIX}\n" + "\n".join(problems)


def test_catalogue_and_template_hold_exactly_the_strings_in_use():
    used = set(_extracted())
    catalogue = _catalogue()
    stale = sorted(set(_entries(catalogue)) - used) + sorted(_msgid(m) for m in catalogue.obsolete.values())
    assert not stale, f"{PO.name} has entries no source uses any more. {FIX}\n" + "\n".join(stale)
    template = set(_entries(_catalogue(POT)))
    assert template == used, (
        f"{POT.name} is out of date. {FIX}\n"
        f"missing: {sorted(used - template)}\n"
        f"no longer used: {sorted(template - used)}"
    )


def test_translations_keep_every_placeholder_and_format_cleanly():
    problems = []
    for msgid, message in _entries(_catalogue()).items():
        names = set(PLACEHOLDER.findall(msgid))
        for english in _strings(message):
            if set(PLACEHOLDER.findall(english)) != names:
                problems.append(f"{msgid!r} → {english!r}: placeholders differ")
                continue
            # Flask-Babel's template _() always applies %, with or without arguments: a stray % breaks it
            try:
                english % dict.fromkeys(names, 1)
            except (ValueError, TypeError, KeyError) as exc:
                problems.append(f"{msgid!r} → {english!r}: {exc}")
    assert not problems, "\n".join(problems)


def test_compiled_catalogue_matches_the_po():
    _require_compiled()


def _require_compiled() -> None:
    """The app reads the .mo; a missing or stale one would test old English (or none at all)."""
    if not MO.exists():
        pytest.fail(f"{MO.relative_to(ROOT)} is missing: run `make translations`", pytrace=False)
    with open(MO, "rb") as f:
        compiled = {_msgid(m): m.string for m in read_mo(f) if m.id}
    wanted = {msgid: m.string for msgid, m in _entries(_catalogue()).items()}
    if compiled != wanted:
        pytest.fail(f"{MO.relative_to(ROOT)} is older than {PO.name}: run `make translations`", pytrace=False)


@pytest.fixture
def compiled():
    _require_compiled()


# --- pages ---------------------------------------------------------------------------------------------

EN = {"Accept-Language": "en-US,en;q=0.9"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def _html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page).group(1)


def _chinese_left(page: str, data=()) -> list[str]:
    """Chinese text on the page once the given data values and the language link are taken out."""
    for value in sorted({*data, LANGUAGE_LINK}, key=len, reverse=True):
        page = page.replace(value, "")
    return CJK.findall(page)


def _english(client) -> None:
    response = client.get("/lang/en")
    assert response.status_code == 302 and client.get_cookie("lang").value == "en"


@pytest.mark.parametrize("headers", [{}, ZH], ids=["no-accept-language", "zh-CN"])
def test_login_page_is_chinese_by_default(client, headers):
    page = client.get("/login", headers=headers).get_data(as_text=True)
    assert _html_lang(page) == "zh-CN"
    assert "<h1>登录</h1>" in page and "用户名" in page and "密码" in page
    assert "Log in" not in page and "Username" not in page
    assert 'href="/lang/en?next=' in page  # the way to English


def test_login_page_is_english_for_an_english_browser(client, compiled):
    page = client.get("/login", headers=EN).get_data(as_text=True)
    assert _html_lang(page) == "en"
    assert "<title>Log in · PointsMart</title>" in page
    assert "<h1>Log in</h1>" in page and ">Username<" in page and ">Password<" in page
    assert _chinese_left(page) == []


def test_language_cookie_beats_the_browser_and_switches_back(client, compiled):
    response = client.get("/lang/en", query_string={"next": "/login"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    cookie = client.get_cookie("lang")
    assert cookie.value == "en" and cookie.http_only
    page = client.get("/login", headers=ZH).get_data(as_text=True)
    assert _html_lang(page) == "en" and "<h1>Log in</h1>" in page

    # the page's own link back to Chinese, as a user would click it
    link = html.unescape(re.search(r'href="(/lang/zh[^"]*)"[^>]*>' + LANGUAGE_LINK, page).group(1))
    response = client.get(link)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert client.get_cookie("lang").value == "zh"
    page = client.get("/login", headers=EN).get_data(as_text=True)
    assert _html_lang(page) == "zh-CN" and "<h1>登录</h1>" in page


def test_an_unknown_language_changes_nothing(client):
    _english(client)
    assert client.get("/lang/xx").status_code == 302
    assert client.get_cookie("lang").value == "en"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/login",
        "///evil.example",
        "https://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "/\\evil.example",  # browsers read "/\\host" as "//host"; it must reach them escaped
    ],
)
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert client.get_cookie("lang").value == "en"  # the switch itself still happens
    # read Location as a browser does: "\" is "/" in http(s) URLs, and tabs and newlines are dropped
    location = re.sub(r"[\t\r\n]", "", response.headers["Location"]).replace("\\", "/")
    landed = urlsplit(urljoin("http://localhost/lang/en", location))
    assert (landed.scheme, landed.netloc) == ("http", "localhost"), response.headers["Location"]


def test_households_page_in_english_has_english_headers_and_only_data_in_chinese(
    login_as, make_household, compiled
):
    make_household(head_name="王秀兰", group="三社")
    make_household(head_name="李桂芳", group="一社")
    chair = login_as("chair")
    _english(chair)
    page = chair.get("/households/").get_data(as_text=True)
    headers = [re.sub(r"<[^>]+>", "", th) for th in re.findall(r"<th\b[^>]*>(.*?)</th>", page)]
    assert headers == ["Household no.", "Head of household", "Village group", "Points balance"]
    assert "<h1>Household roster</h1>" in page and "Register a household" in page
    assert "王秀兰" in page and "三社" in page  # names are shown as they were entered
    assert _chinese_left(page, data=["王秀兰", "李桂芳", "三社", "一社"]) == []


def test_every_page_a_chair_sees_is_english(app, login_as, make_household, compiled):
    household_id = make_household(points=50, head_name="王秀兰", group="三社")
    chair = login_as("chair")
    _english(chair)
    data = ["王秀兰", "三社", "开户积分", "测试村", "测试镇", "测试县"]
    for path, status in [
        ("/", 200),
        ("/households/", 200),
        ("/households/new", 200),
        (f"/households/{household_id}", 200),
        (f"/households/{household_id}/edit", 200),
        ("/households/import", 200),
        ("/users", 200),
        ("/password", 200),
        ("/audit/", 200),
        ("/no-such-page", 404),
    ]:
        response = chair.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == status, path
        assert _html_lang(page) == "en", path
        assert _chinese_left(page, data) == [], path
    page = chair.get(f"/households/{household_id}").get_data(as_text=True)
    assert "Points history" in page and "Confirm reversal" in page and "Points adjustment" in page


def test_messages_from_python_code_are_english(login_as, make_household, compiled):
    chair = login_as("chair")
    _english(chair)
    make_household(household_no="01-001")
    response = chair.post("/households/new", data={"household_no": "01-001", "head_name": "Li Si"})
    assert "Household no. 01-001 already exists." in response.get_data(as_text=True)

    stranger = chair.application.test_client()
    response = stranger.post("/login", data={"username": "nobody", "password": "wrong-password"}, headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "Wrong username or password, or the account is deactivated." in page
    assert _chinese_left(page) == []


@pytest.mark.parametrize("action", ["adjustment-form-errors", "two-bad-household-fields"])
def test_error_messages_in_english_carry_no_chinese_punctuation(login_as, make_household, compiled, action):
    household_id = make_household(head_name="Wang", group="G1")
    chair = login_as("chair")
    _english(chair)
    if action == "adjustment-form-errors":
        response = chair.post(f"/households/{household_id}/adjust", data={}, follow_redirects=True)
    else:
        response = chair.post(
            "/households/new", data={"household_no": "01 001!", "head_name": "Li Si", "phone": "call me"}
        )
    page = response.get_data(as_text=True)
    assert 'class="flash flash-error"' in page
    assert _chinese_left(page) == []


@pytest.mark.parametrize(
    "language",
    [
        "zh",
        "en",
    ],
)
def test_a_roster_exported_in_either_language_imports_again_unchanged(
    login_as, make_household, compiled, language
):
    make_household(head_name="王秀兰", group="三社", phone="13912345678")
    chair = login_as("chair")
    chair.get(f"/lang/{language}")
    exported = chair.get("/households/export.xlsx")
    assert exported.status_code == 200
    response = chair.post(
        "/households/import",
        data={"file": (io.BytesIO(exported.data), "roster.xlsx")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, re.findall(r'class="flash[^"]*"[^>]*>([^<]*)', page)
    assert re.search(r'<li id="problems" class="">[^<]*0', page), page
    assert re.search(r'<li id="added">[^<]*0', page) and re.search(r'<li id="changed">[^<]*0', page)
