"""Shared helpers for the benchmarks: scratch folders, migrated apps, raw connections, timing, printing.

Every benchmark works in its own temporary folder (``POINTSMART_INSTANCE`` points there while it
runs) on migrated SQLite files, and removes the folder when it is done.
"""

import io
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from pathlib import Path

VILLAGE_CODE = "620123105201"
CHAIR_PASSWORD = "bench-password-42"
GROUPS = ("一社", "二社", "三社", "四社", "五社", "六社", "七社", "八社", "九社", "十社")


# --- printing ---------------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def title(name: str, what: str) -> None:
    say()
    say(f"== {name}: {what}")


def rate(n: float) -> str:
    """A rate or count with thousands separators, rounded to three significant figures above 1,000."""
    if n >= 1000:
        digits = len(str(int(n)))
        n = round(n, 3 - digits)
    return f"{n:,.0f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


# --- timing -----------------------------------------------------------------------------------


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    seconds: float = 0.0

    def __enter__(self) -> "Stopwatch":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0–100) with linear interpolation between the two nearest samples."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Latency:
    """Median and p95 of a list of samples in seconds."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    def text(self) -> str:
        return f"median {ms(self.median)}, p95 {ms(self.p95)}"


def sample(fn, args_list) -> Latency:
    """Call ``fn(arg)`` for each argument and time each call on its own."""
    samples = []
    clock = time.perf_counter
    for arg in args_list:
        start = clock()
        fn(arg)
        samples.append(clock() - start)
    return Latency(samples)


# --- scratch folders and databases ------------------------------------------------------------


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A fresh temporary folder set as ``POINTSMART_INSTANCE``; removed (and the variable restored) after.

    ``POINTSMART_BENCH_TMPDIR`` picks where the folder is made (default: the system's temp folder);
    it should be on the disk the village PC would use, since commits wait for ``fsync``.
    """
    folder = Path(
        tempfile.mkdtemp(prefix=f"pointsmart-bench-{name}-", dir=os.environ.get("POINTSMART_BENCH_TMPDIR"))
    )
    saved = os.environ.get("POINTSMART_INSTANCE")
    os.environ["POINTSMART_INSTANCE"] = str(folder / "instance")
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop("POINTSMART_INSTANCE", None)
        else:
            os.environ["POINTSMART_INSTANCE"] = saved
        shutil.rmtree(folder, ignore_errors=True)


def make_app(db_path: Path, **settings):
    """An app on the SQLite file at ``db_path`` (the connection set-up of pointsmart.database applies)."""
    from pointsmart import create_app

    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "POINTSMART_BASE_URL": "http://pointsmart.bench",
    }
    config.update(settings)
    return create_app(config)


def close_app(app) -> None:
    """Release the app's connections (SQLite checkpoints the WAL when the last one closes)."""
    from pointsmart.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def upgrade_app(app) -> None:
    """``pointsmart db upgrade`` on the app's database (Alembic's log kept quiet unless it fails)."""
    from flask_migrate import upgrade

    log = io.StringIO()
    try:
        with app.app_context(), redirect_stderr(log):
            upgrade()
    except Exception:
        sys.stderr.write(log.getvalue())
        raise


def migrate(db_path: Path) -> None:
    """Create a database at ``db_path`` the way ``pointsmart db upgrade`` does."""
    app = make_app(db_path)
    try:
        upgrade_app(app)
    finally:
        close_app(app)


def copy_db(source: Path, target: Path) -> Path:
    """Copy a closed (checkpointed) SQLite file; each copy is a fresh, separate database."""
    for suffix in ("-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            raise RuntimeError(f"{source} is still open (has a {suffix} file)")
    shutil.copyfile(source, target)
    return target


def raw_connect(db_path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the same PRAGMAs as the app's (pointsmart.database).

    ``isolation_level=None``: the caller sends ``BEGIN IMMEDIATE`` and ``COMMIT`` itself, as the app does.
    """
    from pointsmart.database import SQLITE_BUSY_TIMEOUT_MS

    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def pragmas(conn) -> str:
    """The PRAGMAs that matter for write speed, as ``name=value`` text (works on sqlite3 or SQLAlchemy)."""
    values = []
    for name in ("journal_mode", "synchronous", "foreign_keys"):
        values.append(f"{name}={_scalar(conn, f'PRAGMA {name}')}")
    return " ".join(values)


def _scalar(conn, sql: str):
    if isinstance(conn, sqlite3.Connection):
        return conn.execute(sql).fetchone()[0]
    return conn.exec_driver_sql(sql).scalar()


TRANSFER_COLUMNS = (
    "uuid",
    "from_account_id",
    "to_account_id",
    "amount",
    "kind",
    "reason",
    "ref",
    "reverses_id",
    "actor_id",
    "created_at",
)
#: the INSERT the raw baselines use: the ``transfer`` table of the migration, every column but ``id``
RAW_TRANSFER_INSERT = (
    f"INSERT INTO transfer ({', '.join(TRANSFER_COLUMNS)}) VALUES ({', '.join('?' * len(TRANSFER_COLUMNS))})"
)


def sql_time(value) -> str:
    """A datetime as SQLAlchemy's SQLite dialect stores it, so raw rows read back like the app's."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


# --- a village with households -----------------------------------------------------------------


@dataclass
class Village:
    village_id: int
    chair_username: str
    #: household id → its ledger account id, in registration order
    accounts: dict[int, int]
    #: system account kind → id
    system: dict[str, int]


def build_village(app, households: int, *, chair: bool = True) -> Village:
    """Register a village, a chair and ``households`` households through the services, in one commit."""
    import sqlalchemy as sa

    from pointsmart.auth.services import create_user
    from pointsmart.extensions import db
    from pointsmart.households.services import create_household
    from pointsmart.ledger.models import SYSTEM_ACCOUNTS, Account
    from pointsmart.org.services import ensure_village

    with app.app_context():
        session = db.session
        village = ensure_village(
            session, VILLAGE_CODE, "基准村", township_name="基准镇", county_name="基准县"
        )
        username = "bench-chair"
        if chair:
            create_user(session, username, "chair", CHAIR_PASSWORD, "基准主任", village_id=village.id)
        accounts = {}
        for n in range(1, households + 1):
            group = GROUPS[(n - 1) % len(GROUPS)]
            data = {
                "household_no": f"{(n - 1) % len(GROUPS) + 1:02d}-{n:04d}",
                "head_name": f"户主{n}",
                "group": group,
                "members": 1 + n % 6,
            }
            household = create_household(session, village.id, data, actor_id=None)
            accounts[household.id] = household.account_id
        system = {
            str(kind): session.scalar(sa.select(Account.id).where(Account.code == str(kind)))
            for kind in SYSTEM_ACCOUNTS
        }
        session.commit()
        return Village(village.id, username, accounts, system)


def fs_note(folder: Path) -> str:
    """Where the scratch files live, since fsync speed depends on it."""
    try:
        with open("/proc/mounts") as mounts:
            best = ("", "?")
            resolved = str(folder.resolve())
            for line in mounts:
                parts = line.split()
                mount, fstype = parts[1], parts[2]
                if resolved.startswith(mount) and len(mount) > len(best[0]):
                    best = (mount, fstype)
        return f"{folder} ({best[1]})"
    except OSError:
        return str(folder)


def python_note() -> str:
    return f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"


def load_note() -> str:
    """The machine's load average: other work on a 2-core box shows up as noise in every number."""
    try:
        one, five, _fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"
