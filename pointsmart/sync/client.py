"""The push client: send the change log to the county, batch by batch, until it has everything.

It starts after what the county last acknowledged, follows the county when it asks to rewind
(``sequence_gap``), and retries a batch with growing pauses when the network or the county fails.
A batch the county applied but whose answer was lost is simply sent again: the county sees a repeat,
changes nothing and answers with how far it has come.
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from .. import tls
from ..clock import utcnow
from ..errors import DomainError
from ..json_limits import bounded
from ..org.services import home_village
from ..unit import write
from . import batches

logger = logging.getLogger(__name__)

#: statuses worth retrying: the county is busy, restarting or behind a failing proxy
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class PushError(DomainError):
    code = "push_failed"
    status = 502


@dataclass
class PushReport:
    village_code: str
    batches: int = 0
    records: int = 0
    acked_seq: int = 0
    head_seq: int = 0
    retries: int = 0
    rewinds: int = 0
    #: times the county refused a batch as too large (413) and it was sent again in halves
    splits: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return max(0, self.head_seq - self.acked_seq)


def _record(session: Session, **values) -> None:
    with write(session):
        state = batches.state_for_update(session)
        for name, value in values.items():
            setattr(state, name, value)


def _json(response: httpx.Response) -> dict:
    """The county's answer as a dict; {} for anything else (not JSON, or nested past the bound)."""
    try:
        body = bounded(json.loads, response.content)
    except ValueError:  # TooDeep is one
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(body: dict) -> str | None:
    error = body.get("error")
    return error.get("code") if isinstance(error, dict) else None


def _message(response: httpx.Response) -> str:
    error = _json(response).get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return str(message) if message else f"HTTP {response.status_code}"


#: hosts a server listening on them answers on every interface
_EVERY_INTERFACE = ("0.0.0.0", "::", "")  # noqa: S104 -- compared with, never bound here


def village_address(config) -> str | None:
    """This village server's address on its LAN, which the family's phone reaches on the village Wi-Fi.

    ``POINTSMART_BASE_URL`` when set (what cards printed before a county); else, when this process
    serves (``serve`` sets ``POINTSMART_HTTP_HOST``/``_PORT``) and phones can reach it, plain HTTP on
    its private LAN address — ``/c/`` is served over HTTP, so no certificate is needed. None when it is
    not known (a ``sync push`` from the command line, a server listening on this PC only).
    """
    base = (config.get("POINTSMART_BASE_URL") or "").strip().rstrip("/")
    if base:
        return base
    host, port = config.get("POINTSMART_HTTP_HOST"), config.get("POINTSMART_HTTP_PORT")
    if host is None or not port or tls.is_loopback_host(host):
        return None
    if host in _EVERY_INTERFACE:
        private = sorted((a for a in tls.lan_addresses() if a.is_private), key=int)
        if not private:
            return None
        host = str(private[0])
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}" + ("" if int(port) == 80 else f":{port}")


def push(
    session: Session,
    county_url: str,
    sync_key: str,
    *,
    client: httpx.Client | None = None,
    batch_size: int = batches.BATCH_SIZE,
    max_bytes: int = batches.BATCH_BYTES,
    attempts: int = 6,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[PushReport], None] | None = None,
    village_url: str | None = None,
) -> PushReport:
    """Push everything the county has not acknowledged; return what was sent.

    No batch is bigger than ``max_bytes``. A county that still answers 413 (a smaller limit, a proxy's)
    gets the same records again in batches half the size, down to one record, never the same body twice.
    Each batch carries ``village_url`` (:func:`village_address`) when given: the county's family page
    sends families there for their claims.

    :raises PushError: the county refused (bad key, another village's key, altered records), or it
        stayed unreachable after ``attempts`` tries of one batch; the reason is kept for the chair.
    """
    if not county_url or not sync_key:
        raise PushError(
            _("还没有填写县里的地址或同步密钥，请到“设置”页填写。"),
            code="not_configured",
        )
    code = home_village(session).code
    report = PushReport(code, acked_seq=batches.state(session).acked_seq, head_seq=batches.head_seq(session))
    _record(session, last_attempt_at=utcnow())
    url = county_url.rstrip("/") + "/api/v1/sync/batches"
    headers = {"Authorization": f"Bearer {sync_key}", "Content-Type": "application/json"}
    own = client is None
    client = client or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
    start = report.acked_seq + 1
    try:
        while True:
            batch = batches.build(session, code, start, batch_size, max_bytes, village_url)
            report.head_seq = batches.head_seq(session)
            session.rollback()  # end the read: the village keeps working while the batch travels
            if batch is None:
                break
            response = _send(client, url, headers, batch.body, attempts, backoff, sleep, report)
            body = _json(response)
            if response.status_code == 200:
                try:
                    acked, county_digest = int(body["acked_seq"]), body.get("digest")
                except (KeyError, TypeError, ValueError):
                    raise PushError(
                        _("看不懂县里的回答：县里的地址可能填错了，或者网络要先登录（如 Wi-Fi 认证页）。"),
                        code="bad_answer",
                    ) from None
                if acked > report.head_seq:
                    raise PushError(
                        _("县里已确认到第 %(county)s 条，本村只有 %(village)s 条："
                          "本村数据库可能是从旧备份恢复的，请联系县里。",
                          county=acked, village=report.head_seq),
                        code="county_ahead",
                    )  # fmt: skip
                if county_digest is not None and county_digest != batches.digest_at(session, acked):
                    raise PushError(
                        _("本村第 %(seq)s 条及以前的记录与县里收到的不一致：本村数据库可能是从旧备份恢复的。"
                          "同步已停止，请联系县里核对。", seq=acked),
                        code="diverged",
                    )  # fmt: skip
                report.batches += 1
                report.records += batch.records
                report.acked_seq = acked
                _record(session, acked_seq=acked, last_sync_at=utcnow(), last_error="")
                start = acked + 1
            elif response.status_code == 413 and batch.records > 1:
                report.splits += 1
                max_bytes = len(batch.body) // 2  # the same records again, in smaller batches
                continue
            elif response.status_code == 409 and _error_code(body) == "sequence_gap":
                report.rewinds += 1
                if report.rewinds > 20:
                    raise PushError(_("县里一再要求重发，同步停止了。"), code="rewind_loop")
                expected = body.get("expected_from_seq")
                # a gap can only send us back: anything else would skip records the county never had
                if not isinstance(expected, int) or not 1 <= expected < batch.from_seq:
                    raise PushError(
                        _("县里要求从第 %(n)s 条重发，这不合理，同步停止了。", n=expected), code="bad_answer"
                    )
                start = expected
                report.acked_seq = start - 1
                _record(session, acked_seq=start - 1)
            else:
                raise PushError(
                    _("县里拒收了第 %(a)s–%(b)s 条：%(reason)s", a=batch.from_seq, b=batch.to_seq,
                      reason=_message(response)),
                    code="refused",
                )  # fmt: skip
            if progress:
                progress(report)
    except PushError as err:
        session.rollback()
        _record(session, last_error=err.message[:500])  # the push's own message, cut to the column
        raise
    finally:
        if own:
            client.close()
    return report


def network_problem(exc: httpx.TransportError) -> str:
    """What went wrong on the way to the county, in words a chair can act on (the system's own English,
    such as "[Errno -2] Name or service not known", goes to the log, not to the page)."""
    logger.info("sync: %s: %s", type(exc).__name__, exc)
    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return _("连不上县里：县里的服务器太久没有回答，过一会儿再同步。")
    if isinstance(exc, httpx.ConnectError) and (
        "name" in text or "resolution" in text or "getaddrinfo" in text
    ):
        return _("连不上县里：找不到这个地址。请在“设置”页核对县里的地址，并看看这台电脑能不能上网。")
    if isinstance(exc, httpx.ConnectError):
        return _("连不上县里：县里的服务器没有应答。请看看这台电脑能不能上网，过一会儿再同步。")
    return _("连不上县里：网络中断了，过一会儿再同步。")


def _send(client, url, headers, body, attempts, backoff, sleep, report) -> httpx.Response:
    """POST one batch, retrying network failures and busy answers with doubling pauses (at most 60 s)."""
    problem = ""
    for attempt in range(attempts):
        if attempt:
            report.retries += 1
            sleep(min(60.0, backoff * 2 ** (attempt - 1)))
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:
            problem = network_problem(exc)
            report.errors.append(problem)
            continue
        if response.status_code in RETRY_STATUSES:
            problem = _("县里暂时无法处理（HTTP %(status)s）", status=response.status_code)
            report.errors.append(problem)
            continue
        return response
    raise PushError(
        _("试了 %(n)s 次仍未成功，稍后再同步。最后一次：%(problem)s", n=attempts, problem=problem),
        code="unreachable",
    )
