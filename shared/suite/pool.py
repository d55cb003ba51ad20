"""`defectlab labels suggest` around the pure ranking (suggest.py): the pool's records (the models run now, or an
inspect output read back), their signals, read by field as the records' schemas name them (class `probabilities`,
`boxes` with a `confidence`, a `score` with its `threshold`), backbone features, and the outputs."""
from __future__ import annotations

import json
import sys
import textwrap
from importlib import import_module
from pathlib import Path

import numpy as np

from ..datasets.images import expand_globs, expand_image_inputs, file_sha1
from . import suggest as ranking
from .errors import DataError

FEATURES = {"lite0": "backbones.embed:embed"}  # named as data: the core imports no framework until it is used


def signals_of(records: list[dict], uncertainty: str = "margin") -> list[ranking.Signal]:
    """One signal per kind of answer the records hold (a record without that answer: NaN, the middle rank)."""
    n, signals = len(records), []
    parts = [[v for v in r.values() if isinstance(v, dict)] + [r] for r in records]
    probabilities = [next((p["probabilities"] for p in ps if isinstance(p.get("probabilities"), dict)), None)
                     for ps in parts]
    classes = list(dict.fromkeys(c for p in probabilities if p for c in p))
    if classes:
        matrix = np.array([[p.get(c, 0.0) for c in classes] if p else [np.nan] * len(classes) for p in probabilities])
        known = ~np.isnan(matrix).any(axis=1)
        made = (ranking.margin if uncertainty == "margin" else ranking.entropy)(np.nan_to_num(matrix), classes)
        made.doubt[~known] = np.nan
        made.text = [t if k else "no class answer" for t, k in zip(made.text, known)]
        signals.append(made)
    boxes = [next((p["boxes"] for p in ps if isinstance(p.get("boxes"), list)), None) for ps in parts]
    if any(b is not None for b in boxes):
        made = ranking.box_doubt([[float(x.get("confidence", 1.0)) for x in b] if b is not None else [] for b in boxes])
        made.doubt[[b is None for b in boxes]] = np.nan
        signals.append(made)
    scored = [next((p for p in ps if isinstance(p.get("score"), (int, float)) and
                    isinstance(p.get("threshold"), (int, float))), None) for ps in parts]
    if any(s is not None for s in scored):
        made = ranking.novelty(np.array([s["score"] if s else np.nan for s in scored]),
                               np.array([s["threshold"] if s else 1.0 for s in scored]))
        made.text = [t if s else "no novelty score" for t, s in zip(made.text, scored)]
        signals.append(made)
    assert all(len(s.doubt) == n for s in signals)
    return signals


def features(paths: list[str], kind: str) -> np.ndarray:
    module, _, name = FEATURES[kind].partition(":")
    return getattr(import_module(module), name)(paths)


def _records(args, images: list) -> list[dict]:
    """The pool's records: read from --results, else made now by the runs given (or found under --runs-root)."""
    from .labels import read_records

    if args.results:
        records = read_records(args.results)
        if not images:
            return records
        by_path = {str(Path(r["image"]).resolve()): r for r in records if "image" in r}
        return [by_path.get(str(Path(i).resolve()), {"image": str(i)}) for i in images]
    from .cli_evaluate import task_pairs
    from .inspect import Inspector, default_run, find_runs, predict_options

    given = task_pairs(args.runs, "--runs")
    tasks = [t for t in args.tasks if t in given] if given else \
        [t for t in args.tasks if (default_run(t, args.runs_root) / "data.json").is_file()]
    if not tasks:
        print("note: no run given or found under --runs-root: diversity only", file=sys.stderr)
        return [{"image": str(i)} for i in images]
    inspector = Inspector.from_runs(find_runs(given, args.runs_root, tasks), 16, args.onnx,
                                    options=predict_options(args.predict, tasks))
    return inspector.inspect(images, progress=True)


def contact_sheet(paths: list[str], picks: list[ranking.Pick], target: Path, cell: int = 160, columns: int = 6):
    """The suggested pictures in a grid, each with its rank, name and reason."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=11)
    rows, text_height = -(-len(picks) // columns), 62
    sheet = Image.new("RGB", (min(columns, len(picks)) * cell, rows * (cell + text_height)), "white")
    draw = ImageDraw.Draw(sheet)
    for number, pick in enumerate(picks):
        left, top = (number % columns) * cell, (number // columns) * (cell + text_height)
        with Image.open(paths[pick.index]) as picture:
            thumb = picture.convert("RGB")
            thumb.thumbnail((cell - 8, cell - 8))
        sheet.paste(thumb, (left + (cell - thumb.width) // 2, top + 4))
        lines = [f"#{number + 1} {Path(paths[pick.index]).name}"] + textwrap.wrap(pick.reason, 27)[:3]
        for line_number, line in enumerate(lines):
            draw.text((left + 4, top + cell + line_number * 14), line, fill="black" if line_number else "#b00000",
                      font=font)
    sheet.save(target)
    return target


def suggest(args) -> int:
    if args.budget < 1:
        raise DataError(None, f"--budget must be at least 1, got {args.budget}")
    if not args.pool and not args.results:
        raise DataError(None, "give the pool's pictures (POOL) or an inspect output (--results)")
    images = expand_image_inputs(expand_globs(args.pool)) if args.pool else []
    records = []
    for record in _records(args, images):
        if "error" in record:
            print(f"defectlab: skipped {record['error']}", file=sys.stderr)
        else:
            records.append(record)
    labelled_paths = []
    if args.labelled:
        from ..datasets.index import read_dataset

        index, _ = read_dataset(args.labelled, progress=False)
        known = set(index["sha1"])
        before = len(records)
        records = [r for r in records if not Path(r["image"]).is_file() or file_sha1(r["image"]) not in known]
        if before > len(records):
            print(f"note: {before - len(records)} pool pictures are in {args.labelled} already: left out")
        labelled_paths = list(index.drop_duplicates("picture_id")["path"])
    if not records:
        raise DataError(args.results or args.pool[0], "no readable picture in the pool")
    paths = [str(r["image"]) for r in records]
    pool_features = labelled_features = None
    if args.features != "none":
        both = features(paths + labelled_paths, args.features)
        pool_features, labelled_features = both[:len(paths)], both[len(paths):]
    signals = signals_of(records, args.uncertainty)
    picks = ranking.rank(signals, args.budget, pool_features, labelled_features, args.shortlist)
    for number, pick in enumerate(picks, 1):
        print(f"#{number:<3} {paths[pick.index]}  {pick.reason}")
    if args.out:
        _write(args, records, paths, signals, picks)
    return 0


def _write(args, records, paths, signals, picks) -> None:
    import pandas as pd

    from .outputs import prepare_output

    out = prepare_output(args.out, "labels-suggest", force=args.force)
    rows = [{"rank": n, "image": paths[p.index], "reason": p.reason, "doubt": round(p.doubt, 4),
             "distance": None if p.distance is None else round(p.distance, 4),
             **{s.name.replace(" ", "_"): None if np.isnan(s.doubt[p.index]) else round(float(s.doubt[p.index]), 4)
                for s in signals}} for n, p in enumerate(picks, 1)]
    pd.DataFrame(rows).to_csv(out / "suggested.csv", index=False)
    (out / "predictions.json").write_text(json.dumps([records[p.index] for p in picks], indent=1) + "\n")
    contact_sheet(paths, picks, out / "contact_sheet.png")
    print(f"{len(picks)} suggested -> {out / 'suggested.csv'}, {out / 'contact_sheet.png'}, "
          f"{out / 'predictions.json'}")
