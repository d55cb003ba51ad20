"""`defectlab results DB`: what a results database (`defectlab inspect --db`) holds, as a summary or a CSV."""
from __future__ import annotations

import argparse
import json


def register(subparsers, common) -> None:
    results = subparsers.add_parser(
        "results", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="summarize or export a results database that `defectlab inspect --db` filled",
        description="Read a results database: counts per class of each task's answer, per day, the novel rate and "
                    "the pictures most worth a look (novel first, then the most tasks voting novel, then the least "
                    "sure answer or the most unusual score). --export writes one CSV row per inspection with each "
                    "task's columns prefixed by the task. Schema and rules: docs/results-database.md.",
        epilog="examples:\n  defectlab results results.db\n  defectlab results results.db --json\n"
               "  defectlab results results.db --export inspections.csv\n"
               "  defectlab results postgresql+psycopg://user@host/defects --top 20")
    results.add_argument("db", metavar="DB", help="a SQLite file path or a database URL")
    results.add_argument("--json", action="store_true", help="print the summary as JSON")
    results.add_argument("--export", metavar="FILE", help="write one row per inspection to this file: .csv, or "
                                                          ".parquet (DuckDB reads it: SELECT * FROM 'FILE.parquet')")
    results.add_argument("--top", type=int, default=10, help="how many pictures worth a look (default 10)")
    common(results)
    results.set_defaults(handler=run_results)


def run_results(args) -> int:
    from ..store import open_store

    with open_store(args.db, create=False) as store:
        if args.export:
            count = store.export(args.export)
            print(f"{count} inspections -> {args.export}")
            return 0
        summary = store.summary(args.top)
    print(json.dumps(summary, indent=2, default=str) if args.json else text(summary))
    return 0


def text(summary: dict) -> str:
    """The summary for a person: a few lines per part."""
    novel = summary["novel"]
    rate = f"{novel['rate']:.1%}" if novel["rate"] is not None else "—"
    lines = [(f"{summary['database']}: {summary['pictures']} pictures, {summary['inspections']} inspections "
              f"({summary['errors']} unreadable), {summary['boxes']} boxes, {len(summary['runs'])} sets of runs"),
             f"novel: {novel['novel']} of {novel['judged']} judged ({rate})"]
    for task, found in summary["classes"].items():
        counts = ", ".join(f"{value} {n}" for value, n in found["counts"].items())
        lines.append(f"{task} ({found['column']}): {counts}")
    if summary["days"]:
        lines.append("per day (UTC): inspections, unreadable, novel")
        lines += [f"  {d['day']}  {d['inspections']:>6} {d['errors']:>6} {d['novel']:>6}" for d in summary["days"]]
    if summary["worth_a_look"]:
        lines.append("worth a look (novel first, then more tasks voting novel, then the larger doubt):")
        for pick in summary["worth_a_look"]:
            flags = ["novel"] if pick["novel"] else []
            if pick["voters"]:
                flags.append(f"{pick['votes']}/{pick['voters']} vote novel")
            if pick["because"]:
                flags.append(f"doubt {pick['doubt']:.2f} ({pick['because']})")
            lines.append(f"  {pick['image']}: {', '.join(flags) or '—'}")
    return "\n".join(lines)
