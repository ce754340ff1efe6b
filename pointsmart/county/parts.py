"""A bundle sent from the browser in parts, so that no request body is ever larger than 8 MB.

waitress reads a whole body before the app sees it; with one large-body route, anyone could make a
county read hundreds of megabytes before being refused. So the bundle page's script slices a large
file and posts its parts one by one; they are kept here, under the instance folder, one folder per
admin and upload id, until the last one is in and the whole is assembled and imported. The total is
counted as parts arrive and capped at ``POINTSMART_BUNDLE_MAX_BYTES``. Anything that does not add up
— an id, index or count that is not sane, a missing part, a count that changes — is refused and the
upload's folder removed, so nothing is left behind. Uploads abandoned for a day are removed when a new
one starts.
"""

import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _

from ..errors import DomainError

UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
STALE_SECONDS = 24 * 60 * 60
CHUNK = 64 * 1024
COUNT_FILE = "count"


class PartRefused(DomainError):
    """A part, or the request to assemble the parts, that cannot be taken."""

    code = "bundle_part_refused"
    status = 400


def part_bytes() -> int:
    return current_app.config["POINTSMART_BUNDLE_PART_BYTES"]


def max_bytes() -> int:
    return current_app.config["POINTSMART_BUNDLE_MAX_BYTES"]


def max_parts() -> int:
    return -(-max_bytes() // part_bytes())


def root() -> Path:
    return Path(current_app.instance_path) / "bundle-parts"


def _number(raw, field: str, low: int, high: int) -> int:
    """A small decimal number from outside, within ``low..high``, or a 400 that names the field."""
    text = str(raw) if raw is not None else ""
    if not (text.isascii() and text.isdecimal() and len(text) <= 9 and low <= int(text) <= high):
        message = _("%(field)s 不对：应为 %(low)s 到 %(high)s 的整数。", field=field, low=low, high=high)
        raise PartRefused(message)
    return int(text)


def sane_count(raw) -> int:
    return _number(raw, "count", 1, max_parts())


def sane_index(raw, count: int) -> int:
    return _number(raw, "index", 0, count - 1)


def folder(user_id: int, upload_id) -> Path:
    """The upload's folder; the id is the script's random 32 hex digits and nothing else."""
    if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
        raise PartRefused(_("upload 不对：应为 32 位十六进制数字。"))
    return root() / str(int(user_id)) / upload_id


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove_stale(now: float | None = None) -> None:
    """Remove every upload (of any admin) untouched for a day: a closed browser leaves its parts."""
    cutoff = (time.time() if now is None else now) - STALE_SECONDS
    for upload in root().glob("*/*"):
        try:
            if upload.stat().st_mtime < cutoff:
                discard(upload)
        except FileNotFoundError:
            continue


def _stored_count(path: Path) -> int | None:
    try:
        return int((path / COUNT_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _received(path: Path, leaving_out: str) -> int:
    """The bytes of the parts kept so far (raises FileNotFoundError when the upload was removed)."""
    if not path.is_dir():
        raise FileNotFoundError(path)
    return sum(p.stat().st_size for p in path.glob("*.part") if p.name != leaving_out)


def _refuse(path: Path, message: str, status: int = 400):
    discard(path)
    raise PartRefused(message, status=status)


def save_part(user_id: int, upload_id, raw_index, raw_count, body: BinaryIO) -> int:
    """Keep one part (read from ``body``, at most one part's size); return the bytes received so far.

    :raises PartRefused: a bad id, index or count (nothing kept), or a part that breaks the upload —
        a count unlike the first part's, a part too large, a total over the cap (the upload removed).
    """
    path = folder(user_id, upload_id)
    count = sane_count(raw_count)
    index = sane_index(raw_index, count)
    if not path.exists():
        remove_stale()
        _start(path, count)
    if _stored_count(path) != count:
        _refuse(path, _("分段数与这次上传的第一段不一致，上传已作废，请重新上传。"))
    name = f"{index}.part"
    # a name of its own: the same part sent twice at once (a retry) must not write into one file
    temporary = path / f"{name}.{uuid.uuid4().hex}.tmp"
    try:
        limit = min(part_bytes(), max_bytes() - _received(path, name))
        written = _copy(body, temporary, limit)
        if written > part_bytes():
            _refuse(path, _("一段超过了 %(n)s 字节，上传已作废。", n=part_bytes()), status=413)
        if written > limit:
            _refuse(path, _("文件超过 %(mb)s MB，县里不能在这里导入。", mb=max_bytes() // 2**20), status=413)
        temporary.replace(path / name)
        path.touch()  # an upload that is still moving is not stale
        return _received(path, "")
    except FileNotFoundError:  # a part sent at the same time broke the upload, and it was removed
        discard(path)
        raise PartRefused(_("没有找到这次上传的文件，可能已经过期，请重新上传。"), status=404) from None


def _start(path: Path, count: int) -> None:
    """Make the upload's folder with its count in one step (a rename), so that a part arriving at the
    same moment finds both or neither; when another part made it first, keep that one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".new-", dir=path.parent))
    (staging / COUNT_FILE).write_text(str(count))
    try:
        staging.rename(path)
    except OSError:  # the folder is there already (made by another part of this upload)
        discard(staging)


def _copy(body: BinaryIO, target: Path, limit: int) -> int:
    """Copy at most ``limit + 1`` bytes: one byte past the limit is enough to know it is too much."""
    written = 0
    with target.open("wb") as out:
        while written <= limit:
            chunk = body.read(min(CHUNK, limit + 1 - written))
            if not chunk:
                break
            out.write(chunk)
            written += len(chunk)
    return written


@contextmanager
def assembled(user_id: int, upload_id, raw_count) -> Iterator[BinaryIO]:
    """The parts joined in order, as one file open for reading; the upload is removed afterwards.

    A file, not a stream over the parts: the import seeks (it measures the file, then reads it again).

    :raises PartRefused: no such upload (404), a count unlike the parts', or a part missing.
    """
    path = folder(user_id, upload_id)
    if not path.exists():
        raise PartRefused(_("没有找到这次上传的文件，可能已经过期，请重新上传。"), status=404)
    try:
        count = sane_count(raw_count)
    except PartRefused:
        discard(path)
        raise
    if _stored_count(path) != count:
        _refuse(path, _("分段数与上传的不一致，上传已作废，请重新上传。"))
    missing = [i + 1 for i in range(count) if not (path / f"{i}.part").is_file()]
    if missing:
        _refuse(path, _("缺少第 %(n)s 段，上传已作废，请重新上传。", n=missing[0]))
    whole = path / "bundle.pmb"
    try:
        with whole.open("wb") as out:
            for i in range(count):
                with (path / f"{i}.part").open("rb") as part:
                    shutil.copyfileobj(part, out, CHUNK)
                (path / f"{i}.part").unlink()  # the disk holds the bundle about once, not twice
        with whole.open("rb") as stream:
            yield stream
    finally:
        discard(path)
