"""Uploaded photos: make sure a file really is a JPEG, PNG or WebP image of a sensible size.

Used for photos of a posted notice (积分公示影视资料) and of goods. The file name and the browser's
content type are never trusted; Pillow reads the bytes.
"""

import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePath

from flask import Response, abort, send_file
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import Invalid, NotFound

MAX_PHOTO_BYTES = 5 * 1024 * 1024
#: what Pillow raises on a file that is no image it can read, or one too large to read safely
UNREADABLE = (
    UnidentifiedImageError,
    OSError,
    EOFError,
    SyntaxError,
    ValueError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)
MAX_PHOTO_SIDE = 6000
#: the pixels of one upload's photos together, as their headers say (three 12-megapixel phone photos
#: pass; three 6000×6000 PNGs of 120 KB each — 108 megapixels, seconds of decoding each — do not)
MAX_TOTAL_PIXELS = 50_000_000
#: Pillow's format name → (content type, file extension)
PHOTO_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


class PhotoRefused(Invalid):
    code = "bad_photo"


@dataclass
class PhotoInfo:
    content_type: str
    extension: str
    width: int
    height: int


def check_image(data: bytes) -> PhotoInfo:
    """Make sure an upload is a JPEG, PNG or WebP image of sensible size, whatever its name says.

    :raises PhotoRefused: empty, over :data:`MAX_PHOTO_BYTES`, not an image of those kinds, damaged,
        or wider or taller than :data:`MAX_PHOTO_SIDE` pixels.
    """
    if len(data) > MAX_PHOTO_BYTES:  # callers read at most one byte more: the size itself is unknown
        raise PhotoRefused(
            _(
                "照片超过 %(max)s MB，太大了。请用手机“压缩”或降低像素后再上传。",
                max=MAX_PHOTO_BYTES // 1024 // 1024,
            ),
            code="photo_too_large",
        )
    not_image = PhotoRefused(
        _("这个文件不是 JPG、PNG 或 WebP 格式的照片，或者文件已损坏。"), code="not_an_image"
    )
    if not data:
        raise not_image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
                if kind not in PHOTO_TYPES:
                    raise not_image
                if width > MAX_PHOTO_SIDE or height > MAX_PHOTO_SIDE:
                    raise PhotoRefused(
                        _(
                            "照片像素太大（%(w)s×%(h)s），长和宽都不能超过 %(max)s 像素。",
                            w=width,
                            h=height,
                            max=MAX_PHOTO_SIDE,
                        ),
                        code="photo_too_many_pixels",
                    )
                image.verify()
            # verify() checks the structure; decoding proves the pixels are there (a JPEG at 1/8 scale)
            with Image.open(io.BytesIO(data)) as image:
                if kind == "JPEG":
                    image.draft("RGB", (max(width // 8, 1), max(height // 8, 1)))
                image.load()
    except PhotoRefused:
        raise
    except UNREADABLE as exc:
        raise not_image from exc
    content_type, extension = PHOTO_TYPES[kind]
    return PhotoInfo(content_type, extension, width, height)


def pixels_of(data: bytes) -> int:
    """The pixels a photo's header says it has, nothing decoded; 0 for a file :func:`check_image`
    refuses from its header alone in its own words (no header, a pixel bomb, a side over
    :data:`MAX_PHOTO_SIDE`)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except UNREADABLE:
        return 0
    if width > MAX_PHOTO_SIDE or height > MAX_PHOTO_SIDE:
        return 0
    return width * height


def require_total_pixels(uploads: list[bytes], limit: int = MAX_TOTAL_PIXELS) -> None:
    """Refuse photos sent together whose pixels add up past ``limit``, from their headers alone —
    before any of them is decoded.

    :raises PhotoRefused: ``photos_too_many_pixels``."""
    total = sum(pixels_of(data) for data in uploads)
    if total > limit:
        raise PhotoRefused(
            _(
                "这几张照片合计 %(total)s 万像素，太大了：一次最多 %(max)s 万像素。"
                "请少选几张，或用手机“压缩”、降低像素后再上传。",
                total=total // 10_000,
                max=limit // 10_000,
            ),
            code="photos_too_many_pixels",
        )


def without_metadata(data: bytes, info: PhotoInfo, fit: int | None = None) -> bytes:
    """The photo re-saved with no EXIF, XMP or comments: a phone's photo carries its GPS position,
    the time and the camera, and stored photos are served to anyone.

    The picture is turned upright first (the EXIF orientation goes with the EXIF). A JPEG that needs
    no turn keeps its own quantisation tables (``quality="keep"``), so it loses almost nothing. The
    colour profile stays: it is about colour, not about the person. With ``fit``, a picture longer
    than ``fit`` pixels on a side is scaled down to it (a phone's 4000-pixel photo of a yard fills a
    village PC's disk and a panel member's data plan; 1600 pixels still show the yard).

    :raises PhotoRefused: the pixels cannot be decoded (``check_image`` has passed it, so rarely).
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            upright = ImageOps.exif_transpose(image)
            turned = upright is not image
            if fit and max(upright.size) > fit:
                upright = upright.copy() if not turned else upright
                upright.thumbnail((fit, fit), Image.Resampling.LANCZOS)
                turned = True  # new pixels: the old quantisation tables no longer apply
            kind = "JPEG" if info.extension == "jpg" else image.format
            options = {"exif": b"", "xmp": b""}
            if image.info.get("icc_profile"):
                options["icc_profile"] = image.info["icc_profile"]
            if kind == "JPEG":
                options["quality"] = 90 if turned else "keep"
                if upright.mode not in ("RGB", "L", "CMYK"):
                    upright = upright.convert("RGB")
            elif kind == "WEBP":
                options.update(quality=90, lossless=image.info.get("lossless", False))
            out = io.BytesIO()
            upright.save(out, kind, **options)
    except (OSError, ValueError, SyntaxError) as exc:
        raise PhotoRefused(
            _("这个文件不是 JPG、PNG 或 WebP 格式的照片，或者文件已损坏。"), code="not_an_image"
        ) from exc
    return out.getvalue()


@dataclass
class CleanPhoto:
    """A checked photo with its metadata removed, ready to store."""

    data: bytes
    info: PhotoInfo


def clean_photo(data: bytes, fit: int | None = None) -> CleanPhoto:
    """Check an upload and remove its metadata — the slow part of storing a photo (it decodes the
    pixels), so views call it before their write transaction and pass the result to the service.
    With ``fit``, the photo is also scaled down to at most ``fit`` pixels a side. ``info`` gives the
    stored file's size, read back from it: a photo turned upright by its EXIF orientation (a phone held
    upright: 800×600 pixels, orientation 6) is stored 600×800, and its row says so.

    :raises PhotoRefused: see :func:`check_image`.
    """
    info = check_image(data)
    cleaned = without_metadata(data, info, fit)
    with Image.open(io.BytesIO(cleaned)) as image:  # the header only: no pixels decoded again
        info = PhotoInfo(info.content_type, info.extension, *image.size)
    return CleanPhoto(cleaned, info)


def has_metadata(data: bytes) -> bool:
    """Whether a photo carries EXIF, XMP or a comment (what :func:`without_metadata` removes)."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # a PNG may keep its eXIf chunk after the pixels
        return bool(image.getexif()) or any(
            k in image.info for k in ("exif", "xmp", "XML:com.adobe.xmp", "comment")
        )


def strip_stored_photo(path) -> bool:
    """Re-save one stored photo without its metadata, if it has any (photos stored before uploads were
    cleaned on the way in). The new file replaces the old in one rename. Returns whether it changed.

    :raises PhotoRefused: the file is not a photo we would store.
    """
    from pathlib import Path

    path = Path(path)
    data = path.read_bytes()
    info = check_image(data)
    if not has_metadata(data):
        return False
    fresh = path.with_name(f".{path.name}.new")
    fresh.write_bytes(without_metadata(data, info))
    fresh.replace(path)
    return True


# --- stored photos -------------------------------------------------------------------------------


def photo_path(folder: Path, stored_name: str) -> Path:
    """Where a stored photo lives; only names we made (a plain file name) resolve."""
    if PurePath(stored_name).name != stored_name or stored_name.startswith("."):
        raise NotFound(_("找不到这张照片。"), code="unknown_photo")
    return folder / stored_name


def store_photo(folder: Path, data: bytes, extension: str) -> str:
    """Write a checked photo under a new random name in ``folder`` (never over another file); return
    the name."""
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{secrets.token_hex(16)}.{extension}"
    with open(photo_path(folder, stored_name), "xb") as f:
        f.write(data)
    return stored_name


def send_photo(folder: Path, photo, private: bool = True) -> Response:
    """Send a stored photo (a row with ``stored_name`` and ``content_type``) as the image type it was
    checked to be, never sniffed; kept out of shared caches unless ``private`` is False. 404 if its
    file is gone."""
    path = photo_path(folder, photo.stored_name)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=photo.content_type, download_name=photo.stored_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if private:
        response.headers["Cache-Control"] = "private, no-store"
    return response
