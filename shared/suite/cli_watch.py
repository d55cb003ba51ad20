"""`defectlab watch FOLDER`: a camera folder, each new picture inspected once it is whole, into the results
database (shared/suite/watch.py)."""
from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from .cli_inspect import add_run_options, chosen_runs
from .watch import FULL_SCAN, GIVE_UP, RESCAN, SETTLE


def positive(word: str) -> float:
    value = float(word)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{word}: want a number of seconds above 0")
    return value


def register(subparsers, common) -> None:
    watch = subparsers.add_parser(
        "watch", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="inspect each new picture of a folder once it is written, into a results database",
        description="Watch a folder (a camera's) and inspect every new picture once, after it is completely "
                    f"written: its size and mtime unchanged for --settle seconds, and it decodes (a file that "
                    f"still does not decode after --give-up seconds is stored as an error). Records go into the "
                    f"results database, which is also the ledger: on start the folder is scanned and what the "
                    f"database has not seen for these runs is inspected, so a restart loses no picture and stores "
                    f"none twice. File events come from watchdog (inotify); --poll scans instead, as it does where "
                    f"no file events are to be had; a scan of what changed lately every {RESCAN:g} s and of everything "
                    f"every {FULL_SCAN:g} s catch what an event missed. "
                    "Runs, tasks and prediction options as `defectlab inspect` takes them. docs/inspection.md.",
        epilog="examples:\n  defectlab watch /camera --db results.db --sort-into sorted/\n"
               "  defectlab watch /mnt/share/camera --poll 5 --db postgresql+psycopg://user@host/defects\n"
               "  defectlab watch /camera --once            the pictures there now, then exit (cron)")
    watch.add_argument("folder", type=Path, help="the folder to watch (sub-folders too)")
    watch.add_argument("--db", metavar="URL_OR_PATH", default="results.db",
                       help="results database: a SQLite file path or a URL such as postgresql+psycopg://user@host/"
                            "name (default results.db in the current folder; docs/results-database.md)")
    add_run_options(watch, "apply")
    watch.add_argument("--onnx", action="store_true", help="run every model with ONNX Runtime, as inspect --onnx")
    watch.add_argument("--batch-size", type=int, default=16,
                       help="most pictures inspected at a time, of those ready (default 16)")
    watch.add_argument("--sort-into", type=Path, metavar="DIR",
                       help="also link each picture (hard link, else symbolic; never moved or changed) into "
                            "DIR/<verdict>/ under its path in the folder: error, novel, else the answer of the "
                            "first task with an answer column")
    watch.add_argument("--settle", type=positive, default=SETTLE, metavar="SECONDS",
                       help=f"how long a file's size and mtime must stay the same before it is read (default "
                            f"{SETTLE:g})")
    watch.add_argument("--give-up", type=positive, default=GIVE_UP, metavar="SECONDS",
                       help=f"how long a settled file may fail to decode before it is stored as an error (default "
                            f"{GIVE_UP:g})")
    watch.add_argument("--poll", type=positive, metavar="SECONDS",
                       help="scan the folder every SECONDS instead of waiting for file events (network shares, "
                            "where events of other machines' writes do not arrive)")
    watch.add_argument("--once", action="store_true",
                       help="inspect the pictures there now (once they settle), then exit")
    watch.add_argument("--stop-after", type=int, metavar="N", help="exit after N pictures inspected")
    watch.add_argument("--timeout", type=positive, metavar="SECONDS", help="exit after SECONDS")
    common(watch)
    watch.set_defaults(handler=run_watch)


def run_watch(args) -> int:
    from ..store import describe_runs, open_store
    from .inspect import Inspector, predict_options
    from .watch import Watcher

    if not args.folder.is_dir():
        raise FileNotFoundError(f"{args.folder}: no such folder to watch")
    runs, options = chosen_runs(args), predict_options(args.predict, args.tasks)
    with open_store(args.db) as store:  # opened before the models load: a wrong URL fails at once
        inspector = Inspector.from_runs(runs, args.batch_size, args.onnx, options=options)
        watcher = Watcher(args.folder, store, inspector, describe_runs(runs, options, args.onnx),
                          sort_into=args.sort_into, settle=args.settle, give_up=args.give_up, poll=args.poll)
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, lambda *_: watcher.stop()) if main_thread else None
        try:
            counts = watcher.run(once=args.once, stop_after=args.stop_after, timeout=args.timeout)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)
    return 1 if counts["inspected"] and counts["unreadable"] == counts["inspected"] else 0
