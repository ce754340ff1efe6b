"""The counter reads a printed card live through the phone's camera (issue 15, third bullet).

Chromium's fake camera (``--use-fake-device-for-media-stream`` with ``--use-file-for-fake-video-capture``)
plays a video file made here from the card the app prints: the shopkeeper opens the card's print page,
the card is photographed off the screen (an element screenshot), laid on a table-coloured 640×480
frame and written as Y4M. The shopkeeper then opens the counter in a second Chromium whose camera is
that file, presses 打开摄像头扫码, and the counter finds that card's household without a key pressed.

Where the browser's own ``BarcodeDetector`` reads QR codes the counter uses it; where it is missing
(removed by an init script here, as on most phones sold in mainland China) or reads no QR codes
(Chromium on Linux with the interface forced on), the WebAssembly decoder served from
``static/vendor`` reads the frames, and the page says so. Debian's Chromium on Linux has no
``BarcodeDetector`` at all (forced on by a Blink flag it lists no formats and ``detect()`` answers
"NotSupportedError: Barcode Detection not implemented"), so the path through a working detector cannot
be exercised here: it is the one line of ``counter.js`` that hands a frame to ``detector.detect``, and
no test pretends to have one.

The base URL and Chromium's extra launch arguments are the fixtures ``camera_base_url`` and
``camera_launch_args``: a test module that serves the village over HTTPS overrides them (its URL, and
what makes Chromium trust the village CA) and runs the same cases through :func:`read_card_live`.
"""

import io
import re
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from playwright.sync_api import expect

from ..conftest import IN_CI
from .conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, login
from .test_shop import card_of, issue_cards

REPO = Path(__file__).resolve().parents[2]
DECODER = REPO / "static/vendor/zxing-wasm/zxing_reader.wasm"
FAKE_CAMERA = [
    "--use-fake-ui-for-media-stream",  # the camera permission is granted without a prompt
    "--use-fake-device-for-media-stream",
]
#: Chromium's Blink flag that exposes the BarcodeDetector interface on desktop Linux (with no formats)
FORCE_DETECTOR = "--enable-blink-features=ShapeDetection,BarcodeDetector"
NO_DETECTOR = "delete window.BarcodeDetector;"
WASM_NOTE = "这个浏览器没有自带扫码功能，已改用本系统的扫码程序识别摄像头画面"
FRAME = (640, 480)  # what Chromium's fake camera gives getUserMedia by default


@pytest.fixture
def camera_base_url(live_server) -> str:
    """Where the counter is served; an HTTPS test module overrides it with the village's https:// URL."""
    return live_server.url


@pytest.fixture
def camera_browser(playwright):
    """Launch a Chromium with extra arguments (a context manager yielding the Browser); an HTTPS test
    module overrides it with one that trusts the village CA (:func:`tests.tls_live.chromium_trusting`)."""
    return lambda extra: closing(
        playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + extra)
    )


@pytest.fixture
def counter(app, make_household, make_user):
    """A household with an active card, and a shopkeeper."""
    if not DECODER.is_file():
        message = f"no {DECODER.relative_to(REPO)}: run `make vendor-js` (npm ci by package-lock.json)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    household = SimpleNamespace(id=make_household(points=80, head_name="赵春燕", household_no="03-017"))
    household.household_no = "03-017"
    issue_cards(app)
    return household, card_of(app, household.id), make_user("shopkeeper")[1]


def _context(browser, base_url: str, **options):
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def printed_card_png(launch, base_url: str, user: str, card_id: int):
    """The card as the app prints it (its print page, print media), photographed as an element."""
    with launch([]) as browser:
        # at twice the pixels, as a phone's camera sees a card held up to it
        page = _context(
            browser, base_url, viewport={"width": 1000, "height": 800}, device_scale_factor=2
        ).new_page()
        login(page, user)
        page.goto(f"/cards/{card_id}")
        page.emulate_media(media="print")
        card = page.locator(".point-card")
        expect(card.locator("img.pc-qr")).to_be_visible()
        return card.screenshot()


def y4m_of(png: bytes, path: Path, frames: int = 2) -> Path:
    """A Y4M video (4:2:0) of the card lying on a table, filling most of a 640×480 camera frame."""
    width, height = FRAME
    card = Image.open(io.BytesIO(png)).convert("RGB")
    card.thumbnail((int(width * 0.9), int(height * 0.9)), Image.Resampling.LANCZOS)
    scene = Image.new("RGB", FRAME, (120, 104, 88))  # a wooden counter
    scene.paste(card, ((width - card.width) // 2, (height - card.height) // 2))
    y, cb, cr = scene.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half, Image.Resampling.BOX).tobytes()
    planes += cr.resize(half, Image.Resampling.BOX).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    scene.save(path.with_suffix(".png"))  # to look at when the test fails
    return path


def read_card_live(
    launch,
    base_url: str,
    launch_args: list[str],
    user: str,
    card,
    household,
    video: Path,
    init_script: str | None = None,
) -> dict:
    """The shopkeeper opens the counter with the fake camera playing ``video``, starts the camera, and
    the counter opens that card's basket. Returns what the page said about its mode before the scan."""
    with launch([*launch_args, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"]) as browser:
        context = _context(
            browser, base_url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        login(page, user)
        page.goto("/shop/counter")
        start = page.get_by_role("button", name="打开摄像头扫码", exact=True)
        expect(start).to_be_visible()
        state = page.evaluate(
            """() => ({
                secure: window.isSecureContext,
                detector: "BarcodeDetector" in window,
                mode: document.querySelector("[data-camera]").dataset.scanMode,
                note: ((note) => (note.hidden ? "" : note.textContent))(document.querySelector(".scan-mode")),
            })"""
        )
        assert state["secure"], state
        start.click()
        # the counter reads the card by itself and opens its basket: no key, no click
        expect(page).to_have_url(re.compile(rf"/shop/counter/cards/{card.id}$"), timeout=20_000)
        expect(page.get_by_role("heading", level=1)).to_contain_text(household.household_no)
        assert errors == [], errors
        # everything — the decoder's script and its .wasm included — came from the village server
        assert [url for url in fetched if not url.startswith(base_url.rstrip("/") + "/")] == []
        state["wasm_fetched"] = any(
            url.endswith("/static/vendor/zxing-wasm/zxing_reader.wasm") for url in fetched
        )
        return state


@pytest.fixture
def card_video(camera_browser, camera_base_url, counter, tmp_path):
    _household, card, shopkeeper = counter
    png = printed_card_png(camera_browser, camera_base_url, shopkeeper, card.id)
    return y4m_of(png, tmp_path / "card.y4m")


def test_with_barcodedetector_removed_the_wasm_decoder_reads_the_card_live(
    camera_browser, camera_base_url, counter, card_video
):
    household, card, shopkeeper = counter
    state = read_card_live(
        camera_browser, camera_base_url, [], shopkeeper, card, household, card_video, NO_DETECTOR
    )
    assert state["detector"] is False and state["mode"] == "wasm" and state["wasm_fetched"]
    assert state["note"].startswith(WASM_NOTE)


def test_a_barcodedetector_that_reads_no_qr_codes_falls_back_to_the_wasm_decoder(
    camera_browser, camera_base_url, counter, card_video
):
    """Chromium on Linux with the interface forced on: BarcodeDetector exists, lists no formats and
    cannot detect — the counter must not trust it and reads with the WebAssembly decoder."""
    household, card, shopkeeper = counter
    state = read_card_live(
        camera_browser,
        camera_base_url,
        [FORCE_DETECTOR],
        shopkeeper,
        card,
        household,
        card_video,
    )
    if not state["detector"]:
        pytest.skip(f"this Chromium does not expose BarcodeDetector even with {FORCE_DETECTOR}")
    assert state["mode"] == "wasm" and state["wasm_fetched"] and state["note"].startswith(WASM_NOTE)


def test_the_camera_goes_off_when_closed_and_a_decoder_that_does_not_load_leaves_the_photo(
    camera_browser, camera_base_url, counter, tmp_path
):
    """A camera pointed at no card keeps looking until 关闭摄像头, which ends the camera's track; a
    decoder that does not load (the .wasm cut off) turns the camera off and says so, and the photo
    button is still there."""
    _household, _card, shopkeeper = counter
    table = io.BytesIO()
    Image.new("RGB", FRAME, (120, 104, 88)).save(table, format="PNG")
    video = y4m_of(table.getvalue(), tmp_path / "table.y4m")
    with camera_browser([*FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"]) as browser:
        context = _context(browser, camera_base_url, viewport={"width": 390, "height": 844})
        context.add_init_script(NO_DETECTOR)
        page = context.new_page()
        login(page, shopkeeper)
        page.goto("/shop/counter")
        page.get_by_role("button", name="打开摄像头扫码", exact=True).click()
        close = page.get_by_role("button", name="关闭摄像头", exact=True)
        expect(close).to_be_visible()
        page.wait_for_function("() => document.querySelector('video').videoWidth > 0")
        page.evaluate(
            "() => { window.track = document.querySelector('video').srcObject.getVideoTracks()[0]; }"
        )
        page.wait_for_timeout(1000)  # a second of frames read with no card in them
        expect(page).to_have_url(re.compile(r"/shop/counter$"))
        close.click()
        assert page.evaluate("() => window.track.readyState") == "ended"
        expect(page.get_by_role("button", name="打开摄像头扫码", exact=True)).to_be_visible()

        context.route("**/zxing_reader.wasm", lambda route: route.abort())
        page.reload()
        page.get_by_role("button", name="打开摄像头扫码", exact=True).click()
        expect(page.get_by_role("status")).to_have_text(
            "扫码程序没有加载成功：请拍卡片的照片识别，或输入卡号。"
        )
        expect(page.locator("video")).to_be_hidden()
        assert page.evaluate("() => document.querySelector('video').srcObject") is None
        expect(page.get_by_text("拍一张卡片的照片", exact=True)).to_be_visible()
