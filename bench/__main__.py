"""Run the benchmarks: ``python -m bench`` runs them all, ``python -m bench NAME ...`` a subset.

Benchmarks are not tests: they assert nothing about time. Each prints its numbers against a baseline
measured in the same run, and the run ends with a summary block, one line per benchmark.
"""

import importlib
import sys
import time

from ._common import load_note, python_note, say

#: in the order they run
BENCHMARKS = (
    "ledger_bulk",
    "ledger_commit",
    "change_log",
    "village_lookup",
    "scoring_finalise",
    "shop_api",
    "sync_ingest",
    "county_dashboard",
    "hostile_uploads",
)


def main(argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        say(f"usage: python -m bench [{' | '.join(BENCHMARKS)} ...]")
        return 0
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        say(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    chosen = [name for name in BENCHMARKS if name in argv] if argv else list(BENCHMARKS)
    say(f"PointsMart benchmarks: {', '.join(chosen)} ({python_note()})")
    say(f"  {load_note()} at the start")
    started = time.perf_counter()
    summary = []
    for name in chosen:
        module = importlib.import_module(f"{__package__}.{name}")
        begun = time.perf_counter()
        line = module.run()
        summary.append(line)
        say(f"  ({name} took {time.perf_counter() - begun:.1f} s; {load_note()})")
    say()
    say("== summary")
    for line in summary:
        say(line)
    say(f"(all done in {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
