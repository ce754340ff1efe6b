"""hostile_uploads: the time and memory a hostile upload costs before it is refused (issue 9).

Each case runs in a fresh child process (so one case's peak memory is not another's), inside a Flask
app, through the same code the upload pages call:

- ``far cell``: the 1.6 KB .xlsx whose one cell sits at ``XFD1048576``, through ``roster.read_rows``;
- ``empty rows``: the .xlsx of 1,048,576 empty rows, through ``roster.read_rows`` (its sheet's XML,
  about 30 MB inflated, is over the 16 MB part cap, so it is refused from the zip's directory; a
  smaller sheet of too many rows is refused at the first row past the cap, as
  ``tests/test_uploads.py`` checks);
- ``bundle 1 GiB``: the 1 MB gzip file that inflates to 1 GiB (one endless line, and again as
  millions of empty lines), through ``county.bundles.import_bundle``;
- ``POST 100 MB``: an anonymous ``POST /county/bundles`` saying ``Content-Length: 100 MB``, through
  the WSGI app (its body is a stream that counts what is read from it) — and then for real over a
  socket to waitress set up as ``pointsmart serve`` sets it up.

Printed for each: seconds, the peak of Python's allocations (tracemalloc) and the growth of the
process's peak resident memory. Baseline, same run: a legitimate 5,000-household roster .xlsx read
the same way (and, for reference, with openpyxl's read-only mode, as the import read it before).
The issue measured the old reading at: far cell > 60 s and > 3 GB; empty rows 46 s; bundle 8.7 s
and 2.2 GB; the anonymous POST read whole.
"""

import io
import multiprocessing
import resource
import socket
import threading
import time
import tracemalloc

from ._common import say, title

CASES = ("baseline roster", "baseline openpyxl", "far cell", "empty rows", "bundle 1 GiB line",
         "bundle 1 GiB lines", "POST 100 MB (WSGI)")  # fmt: skip
HUNDRED_MB = 100 * 1024 * 1024


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _legit_roster() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["户号", "户主姓名", "村民小组", "联系电话", "家庭人口", "住址", "标签"])
    for n in range(1, 5001):
        group = f"{n % 10 + 1}社"
        sheet.append([f"{n:04d}", f"王秀兰{n}", group, 13900000000 + n, 4, f"{group}{n}号", ""])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class _CountingBody(io.RawIOBase):
    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        size = min(len(buffer), 64 * 1024)
        buffer[:size] = b"\0" * size
        self.read_bytes += size
        return size


def _case(name: str):
    """(the input's size, a function that runs the case and returns what the app answered)."""
    from pointsmart.county.bundles import import_bundle
    from pointsmart.extensions import db
    from pointsmart.households import roster
    from tests.hostile_files import empty_rows_xlsx, far_cell_xlsx, inflating_bundle

    if name.startswith("baseline"):
        data = _legit_roster()
        if name == "baseline openpyxl":
            import openpyxl

            def old_read():
                book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
                rows = list(book.worksheets[0].iter_rows(values_only=True))
                book.close()
                return f"{len(rows) - 1:,} rows"

            return len(data), old_read
        return len(data), lambda: f"{len(roster.read_rows('名册.xlsx', data)[1]):,} rows"
    if name in ("far cell", "empty rows"):
        data = far_cell_xlsx() if name == "far cell" else empty_rows_xlsx()
        return len(data), lambda: roster.read_rows("名册.xlsx", data)
    if name.startswith("bundle"):
        data = inflating_bundle(newlines=name.endswith("lines"))
        return len(data), lambda: import_bundle(db.session, io.BytesIO(data))

    def post():
        from flask import current_app

        body = _CountingBody()
        with current_app.test_client() as client:
            response = client.post(
                "/county/bundles",
                content_type="multipart/form-data; boundary=x",
                environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(HUNDRED_MB)},
            )
        return f"{response.status_code}, {body.read_bytes} bytes of the body read"

    return HUNDRED_MB, post


def _measure(name: str, answers) -> None:
    """In a child process: build the input, then run the case three times — cold (its time and the
    growth of peak RSS), warm (its time), and under tracemalloc (Python's peak; tracemalloc slows
    everything down, so no time is taken from that run)."""
    from pointsmart import create_app
    from pointsmart.errors import DomainError

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "POINTSMART_MODE": "county"})
    with app.test_request_context():
        size, run = _case(name)

        def once():
            started = time.perf_counter()
            try:
                outcome = run()
            except DomainError as err:
                outcome = f"refused: {err.code}"
            return time.perf_counter() - started, outcome

        rss_before = _peak_rss()
        cold, outcome = once()
        rss = _peak_rss() - rss_before
        warm, _outcome = once()
        tracemalloc.start()
        once()
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    answers.put((name, size, cold, warm, traced, rss, outcome))


def _over_waitress() -> list[tuple[str, float, str]]:
    """An anonymous large POST sent for real to waitress with ``pointsmart serve``'s settings."""
    from waitress import create_server, wasyncore

    from pointsmart import create_app
    from pointsmart.cli.serve import server_options

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "POINTSMART_MODE": "county"})
    server = create_server(app, host="127.0.0.1", port=0, threads=2, **server_options(app))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    results = []
    try:
        for label, declared, send in (
            ("100 MB sent", HUNDRED_MB, HUNDRED_MB),
            ("1 GiB declared, none sent", 1 << 30, 0),
        ):
            started = time.perf_counter()
            with socket.create_connection(("127.0.0.1", server.effective_port), timeout=30) as conn:
                conn.sendall(
                    b"POST /county/bundles HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                    b"boundary=x\r\nContent-Length: " + str(declared).encode() + b"\r\n\r\n"
                )
                chunk = b"\0" * (1 << 20)
                try:
                    for _ in range(send // len(chunk)):
                        conn.sendall(chunk)
                except OSError:
                    pass  # the server answered and closed before the body was all sent
                status = conn.recv(64).split(b"\r\n", 1)[0].decode(errors="replace")
            results.append((label, time.perf_counter() - started, status))
    finally:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=5)
        server.task_dispatcher.shutdown(timeout=5)
    return results


def run() -> str:
    title("hostile_uploads", "time and memory before a hostile upload is refused (a fresh process each)")
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    figures = {}
    for name in CASES:
        child = context.Process(target=_measure, args=(name, answers))
        child.start()
        got = answers.get(timeout=600)
        child.join()
        figures[name] = got
        _name, size, cold, warm, traced, rss, outcome = got
        say(f"  {name:<20} {size / 1024:>9,.1f} KB: cold {cold * 1000:7.1f} ms, warm {warm * 1000:7.1f} ms, "
            f"Python peak {traced / 1e6:5.1f} MB, RSS growth {rss / 1e6:5.1f} MB — {outcome}")  # fmt: skip
    base = figures["baseline roster"][3]
    say(f"  (warm time as a ratio to reading the legitimate 5,000-household roster, {base * 1000:.0f} ms: "
        + ", ".join(f"{n} {figures[n][3] / base:.2f}×" for n in CASES[1:]) + ")")  # fmt: skip
    for label, seconds, status in _over_waitress():
        say(f"  waitress, anonymous POST /county/bundles, {label}: {seconds * 1000:.0f} ms → {status}")
    worst = max(figures[n][2] for n in CASES[2:])
    worst_mb = max(max(figures[n][4], figures[n][5]) for n in CASES[2:]) / 1e6
    refused = all(figures[n][6].startswith(("refused", "413")) for n in CASES[2:])
    return (f"hostile_uploads: {'every' if refused else 'NOT every'} hostile upload refused; slowest "
            f"{worst * 1000:.0f} ms cold, most memory {worst_mb:.0f} MB "
            f"(legit roster {base * 1000:.0f} ms)")  # fmt: skip
