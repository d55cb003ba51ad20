"""The `defectlab` front door: one grammar for every task, `defectlab TASK VERB [options]`.
`data` lives here; task packages add theirs through the `defectlab.cli` entry-point group, so this
module never imports them (nor any ML framework) until their command is chosen."""
from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

from . import framework_guard
from .errors import DataError

EXAMPLES = """examples:
  defectlab demo                                   synthetic data -> check, split, export (the main job)
  defectlab data synth runs/synthetic --per-class 60
  defectlab data check ../shared/data              validation report of the real NEU copies
  defectlab data split ../shared/data --split kaggle-cls --out split.csv
  defectlab data export ../shared/data --to yolo --split kaggle-det --out runs/yolo-data

Datasets: a folder in any of these layouts (detected automatically):
  NEU-DET / Pascal VOC   IMAGES/*.jpg + ANNOTATIONS/*.xml
  split folders          train|valid|test/<Class>/*.bmp   (Kaggle 'NEU Metal Surface Defects Data')
  class folders          <class>/*.bmp|jpg|png|tif
  both NEU copies        NEU-DET/ and NEU-Metal-Surface-Defects/ side by side (as in ../shared/data)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="defectlab", description="Metal surface defect inspection: classify, locate and flag novel defects.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    from . import cli_data, cli_demo

    cli_data.register(tasks)
    cli_demo.register(tasks)
    for entry in sorted(metadata.entry_points(group="defectlab.cli"), key=lambda e: e.name):
        entry.load()(tasks)
    return parser


def main(argv: list[str] | None = None) -> int:
    framework_guard.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except DataError as error:
        print(f"defectlab: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("defectlab: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def print_json(payload: dict, path: str | Path | None) -> None:
    text = json.dumps(payload, indent=2)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    sys.exit(main())
