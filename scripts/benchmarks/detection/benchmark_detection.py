"""Detection benchmark on the real NEU-DET (kaggle-det: 1440 train, of which 10% carved for validation, / 360
test). A part is one recipe, trained and scored by `defectlab` itself, in this process:

  defectlab detection train WORDS name=PART            the recipe (the run is scored on test as it ends)
  defectlab detection evaluate RUN --side valid        validation
  defectlab detection evaluate RUN --side valid --tta  validation, test-time augmentation
  defectlab detection evaluate RUN --tta               test, test-time augmentation

WORDS are recipe fields as key=value (`defectlab detection train --help`), passed on as they are; PART, unless name=
is given, is <preset>-<budget>-<size>px-seed<seed>[-split<split_seed>]<suffix>, the budget `t<seconds>s` for time=H
(hours, wall clock) or `e<epochs>`. Each part writes scripts/benchmarks/results/detection_parts/PART.json: the four
scores with the commands that made them (`defectlab`), the learning curve and this CPU's images/s (PyTorch and ONNX
Runtime), with provenance. --merge combines the parts into results/detection.json: the headline is the (part, TTA or
not) with the best validation mAP50-95 (test never chooses), the stock yolov8n-320 part with the same budget is the
baseline.

  python scripts/benchmarks/detection/benchmark_detection.py preset=lite2-unfrozen time=3.5 image_size=320 \
      batch_size=16 epochs=30 seed=1 out=runs/cpu
  python scripts/benchmarks/detection/benchmark_detection.py preset=yolov8n-320 image_size=224 epochs=40 batch_size=16
  python scripts/benchmarks/detection/benchmark_detection.py --merge

On a GPU machine, --no-speed skips the CPU speed figures, which belong to this project's CPU, and
`--runs runs/gpu --cpu-speeds PART...` measures them here afterwards; scripts/benchmarks/detection/gpu_detection.sh is
the one prepared call.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import commands, results

SPLIT = "kaggle-det (test side, 360 pictures)"
DEFAULTS = {"data": os.path.relpath(results.ROOT.parent / "shared" / "data" / "NEU-DET"),
            "out": "runs/benchmark-detection"}  # words a part gets unless it names its own
EVALUATIONS = {("valid", False): ["--side", "valid"], ("valid", True): ["--side", "valid", "--tta"],
               ("test", True): ["--tta"]}  # the scores a part adds to `train`'s own (test, plain)
SPEED_WHY = ("infer_images_per_second_cpu: the saved run timed by this script on this CPU (PyTorch and ONNX Runtime, "
             "framed and bare; `command`), which defectlab does not report")
SCORES = ("map50", "map50_95", "precision", "recall", "per_class_ap50", "per_class_ap50_95")


# the predictor's default frame since e4d0752 (0.5 stride of grey: the picture fills 320 of a 352 px canvas)
INFER_SETUP = "{} px, grey frame of 0.5 stride (_bare: none), batch 16, 64 test images, median of 3 passes, conf 0.25"


def cpu_speeds(name: str, runs: Path, argv) -> dict:
    """A part trained on another machine: its run's CPU images/s here, as a part measures them after training."""
    from detection import task
    from shared.suite.provenance import provenance, script_command

    path = results.parts_dir("detection") / f"{name}.json"
    part = json.loads(path.read_text())
    run = task.load(runs / name)
    run.data_yaml()  # the test pictures of its YOLO view (rebuilt when the folder came without it)
    speeds = cpu_speed(run)
    part["infer_images_per_second_cpu"] = speeds
    part["infer_setup"] = INFER_SETUP.format(run.recipe.image_size)
    part["cpu_speed_provenance"] = {**provenance(command=script_command(__file__, argv)), "load_average": os.getloadavg()}
    part["why"] = SPEED_WHY
    results.rewrite(path, part)
    return speeds


def cpu_speed(run) -> dict:
    """Images/s of the run on this CPU with PyTorch and with ONNX Runtime (exported here), 64 test pictures, as
    `predict` shows them (the grey frame) and bare (`_bare`), the two timed in turn so that load hits both alike."""
    from detection.export import to_onnx

    to_onnx(run)
    images = sorted((run.path / "data" / "images" / "test").iterdir())[:64]
    return {f"{engine}{kind}": speed for engine in ("pytorch", "onnx")
            for kind, speed in inference_speeds(run, images, onnx=engine == "onnx").items()}


def inference_speeds(run, images: list[Path], onnx: bool = False, repeats: int = 3) -> dict:
    """Images per second through the run's Predictor (batch 16, CPU), framed ("") and bare ("_bare"), median of
    `repeats` passes of each."""
    predictors = {"": run.predictor(conf=0.25, onnx=onnx, batch_size=16),
                  "_bare": run.predictor(conf=0.25, border=0, onnx=onnx, batch_size=16)}
    speeds = {kind: [] for kind in predictors}
    for predictor in predictors.values():
        predictor.predict(images[:4])  # warm-up
    for _ in range(repeats):
        for kind, predictor in predictors.items():
            started = time.perf_counter()
            predictor.predict(images)
            speeds[kind].append(len(images) / (time.perf_counter() - started))
    return {kind: round(statistics.median(values), 1) for kind, values in speeds.items()}


def image_size(config: dict) -> int:
    """The training size of a part's config: `image_size` (recipe), `imgsz` in parts written before the rename."""
    return config["image_size"] if "image_size" in config else config["imgsz"]


def learning_curve(results_csv: Path) -> dict:
    """ultralytics' per-epoch results.csv as columns (epoch, seconds over every session, losses, validation mAP)."""
    import pandas as pd

    from detection.train import epoch_seconds

    if not results_csv.is_file():
        return {}
    table = pd.read_csv(results_csv).rename(columns=str.strip)
    table["time"] = epoch_seconds(results_csv.parent)
    # a session cut between ultralytics' results row and its checkpoint trains that epoch again: keep the last row
    table = table.drop_duplicates("epoch", keep="last")
    keep = {"epoch": "epoch", "time": "seconds", "train/box_loss": "train_box_loss", "train/cls_loss": "train_cls_loss",
            "val/box_loss": "valid_box_loss", "metrics/mAP50(B)": "valid_map50", "metrics/mAP50-95(B)": "valid_map50_95"}
    return {new: table[old].round(5).tolist() for old, new in keep.items() if old in table}


def train_hardware(device: str, training: dict) -> dict:
    """What trained: the GPU's name where one was used, else the CPU with the threads torch used (as the training
    process recorded them in training.json; this process's where it predates them)."""
    import torch

    if training.get("device") == "cpu":
        return {"device": "cpu", "threads": training["threads"]}
    if device != "cpu" and torch.cuda.is_available():
        return {"device": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count()}
    return {"device": "cpu", "threads": torch.get_num_threads()}


def part_name(recipe, suffix: str = "") -> str:
    """<preset>-<budget>-<size>px-seed<seed>[-split<split_seed>]<suffix>; budgets in seconds (minutes rounded made
    0.09 h and 0.1 h the same name)."""
    hours = getattr(recipe, "time", 0) or recipe.extra.get("time", 0)
    budget = f"t{round(hours * 3600)}s" if hours else f"e{recipe.epochs}"
    split = f"-split{recipe.split_seed}" if recipe.split_seed >= 0 else ""
    return f"{recipe.preset}-{budget}-{recipe.image_size}px-seed{recipe.seed}{split}{suffix}"


def part(words: list[str], suffix: str = "", speed: bool = True, progress: bool = False) -> dict:
    """Train and score one recipe with `defectlab` commands; the part's payload."""
    from detection import task

    given = {word.split("=", 1)[0] for word in words if "=" in word}
    words = [*(f"{key}={value}" for key, value in DEFAULTS.items() if key not in given), *words]
    recipe = commands.recipe("detection", words)
    if not recipe.name:
        words.append(f"name={part_name(recipe, suffix)}")
        recipe = commands.recipe("detection", words)
    path = recipe.run_dir()
    train = commands.run("detection", "train", *words, quiet=not progress)  # also scores test, plain
    scored = {("test", False): train}
    for (side, tta), options in EVALUATIONS.items():
        scored[side, tta] = commands.run("detection", "evaluate", path, *options)
    variants = {}
    for name, tta in (("plain", False), ("tta", True)):
        variants[name] = {side: {k: metrics(path, side, tta)[k] for k in SCORES} for side in ("valid", "test")}
        variants[name]["defectlab"] = list(dict.fromkeys([train, scored["valid", tta], scored["test", tta]]))
    training = json.loads((path / "training.json").read_text())
    curve = learning_curve(path / "train" / "results.csv")
    pretrain = path / "pretrain" / "pretrain.json"
    config = json.loads((path / "config.json").read_text())
    speeds = cpu_speed(task.load(path)) if speed else None  # the saved model, as a user loads it
    return {
        "preset": recipe.preset, "config": config, "run": str(path),
        "defectlab": list(scored.values()),
        "kaggle_det": variants["plain"]["test"], "variants": variants,
        "train_seconds": training["train_seconds"], "train_device": recipe.device or "auto",
        "train_hardware": train_hardware(recipe.device, training), "epochs_run": len(curve.get("epoch", [])) or recipe.epochs,
        "seconds_per_epoch": median_epoch(curve),
        "learning_curve": curve,
        "pretrain_seconds": json.loads(pretrain.read_text())["seconds"] if pretrain.is_file() else 0,
        "infer_images_per_second_cpu": speeds, "infer_setup": INFER_SETUP.format(recipe.image_size),
        **({"why": SPEED_WHY} if speeds else {}),
    }


def metrics(path: Path, side: str, tta: bool) -> dict:
    """The scores `defectlab detection evaluate` wrote into the run folder ([tta_][side_]metrics.json)."""
    from shared.suite.run import output_name

    return json.loads((path / output_name("metrics.json", side, tta)).read_text())


def merge() -> Path:
    path = results.merge("detection", combine, __file__, split=SPLIT)
    curves_png(json.loads(path.read_text())["learning_curves"], results.RESULTS / "detection_curves.png")
    return path


def combine(parts: dict) -> dict:
    """detection.json from the parts and the box_map files of benchmark_ensemble.py (with_frames, with_pair)."""
    candidates = [(p, v) for p in parts.values() for v in p["variants"]]
    best, variant = max(candidates, key=lambda c: c[0]["variants"][c[1]]["valid"]["map50_95"])
    baselines = [p for p in parts.values() if p["preset"] == "yolov8n-320" and p["config"]["epochs"] == best["config"]["epochs"]
                 and image_size(p["config"]) == image_size(best["config"])
                 and hardware_of(p) == hardware_of(best)]
    result = {
        "kaggle_det": best["variants"][variant]["test"], "headline_part": best["run"].rsplit("/", 1)[-1],
        "headline_variant": variant, "selected_by": "validation mAP50-95 (10% carved from train)",
        "baseline": {"kaggle_det": baselines[0]["kaggle_det"], "part": baselines[0]["run"].rsplit("/", 1)[-1],
                     **reproduced(baselines[0], "plain")} if baselines else None,
        "infer_images_per_second_cpu": best["infer_images_per_second_cpu"],
        "train_seconds": best["train_seconds"], "train_device": best["train_device"],
        "train_hardware": hardware_of(best),
        "target": {"map50": 0.72, "map50_95": 0.37},
        "routes": {f"{k}/{variant}": {
            "map50": v["variants"][variant]["test"]["map50"], "map50_95": v["variants"][variant]["test"]["map50_95"],
            "valid_map50": v["variants"][variant]["valid"]["map50"],
            "valid_map50_95": v["variants"][variant]["valid"]["map50_95"],
            "per_class_ap50": v["variants"][variant]["test"]["per_class_ap50"],
            "preset": v["preset"], "epochs": v.get("epochs_run", v["config"]["epochs"]), "imgsz": image_size(v["config"]),
            "pretrain_epochs": v["config"].get("pretrain_epochs", 0), "backbone": v["config"].get("backbone", ""),
            # absent in parts older than the field, which then always meant ImageNet weights
            "backbone_imagenet": v["config"].get("backbone_imagenet", True) and bool(v["config"].get("backbone")),
            "frozen_blocks": v["config"].get("frozen_blocks", 2) if v["config"].get("backbone") else None,
            "train_seconds": v["train_seconds"], "seconds_per_epoch": seconds_per_epoch(v),
            "hardware": hardware_of(v), "threads": threads_of(v), "train_device": v["train_device"],
            "infer_images_per_second_cpu": v.get("infer_images_per_second_cpu"),
            "command": v["command"], "git_commit": v["git_commit"], **reproduced(v, variant)}
            for k, v in parts.items() for variant in v["variants"]},
        "learning_curves": {k: {c: v["learning_curve"][c] for c in ("epoch", "seconds", "valid_map50", "valid_map50_95")}
                            for k, v in parts.items() if v.get("learning_curve")},
    }
    if variant == "tta":
        result["infer_note"] = "speeds are without TTA; ultralytics TTA runs three passes (flips, scales) per image"
    with_frames(result, parts)
    with_pair(result, parts)
    headline = result["routes"][f"{result['headline_part']}/{result['headline_variant']}"]
    result.update({key: headline[key] for key in ("defectlab", "why") if key in headline})
    return result


def reproduced(entry: dict, variant: str | None = None) -> dict:
    """The `defectlab` commands of a part's variant or a scored entry, and `why` where a script made part of it (with
    its `command`, where no defectlab command makes it)."""
    source = entry["variants"][variant] if variant else entry
    return {key: source[key] for key in ("defectlab", "why", "command") if key in source}


def with_frames(result: dict, parts: dict) -> None:
    """The grey-frame route (detection_frames.json, benchmark_ensemble.py --borders): its rows join the routes, scored
    by detection.ensemble.box_map; where validation chose another frame of the headline's model than the validator's
    (0.5 stride), that frame is the headline, with its test numbers from the same scorer (the rule in its script)."""
    path = results.RESULTS / "detection_frames.json"
    if not path.is_file():
        return
    frames = json.loads(path.read_text())
    for key, scored in frames["singles"].items():
        if key.split("/")[0] in parts:
            result["routes"][key] = box_row(result, key, scored, frames)
    from detection.predict import VALIDATOR_BORDER

    part_name, variant = frames["chosen"].split("/", 1)
    if part_name == result["headline_part"] and not variant.endswith(f"/frame{VALIDATOR_BORDER:g}"):
        result.update(kaggle_det=frames["singles"][frames["chosen"]]["test"], headline_variant=variant,
                      selected_by=result["selected_by"] + "; then the grey frame, on validation (detection_frames.json)")


# WBF at iou_thr 0.55, then at 0.7 (NMS's), then fusions that keep the best box's place (keys tagged by the script)
PAIR_FILES = ("detection_pair.json", "detection_pair_iou70.json", "detection_pair_fusions.json",
              "detection_pair_long.json")  # the 3.5-h seed 1 with seed 2


def with_pair(result: dict, parts: dict) -> None:
    """The pair route (PAIR_FILES, benchmark_ensemble.py on two runs of one carve-out): each run's rows and the
    fused pair's join the routes, scored by box_map (rows the frame route already holds keep its numbers; pairs
    fused at another IoU than 0.55, or by another fusion, end in /<fusion><iou>). Where the headline's run is one of
    the pair, the candidate of all files with the best validation mAP50-95 becomes the headline, with its test
    numbers (the rules in the script: the present headline is one of the candidates)."""
    candidates, runs, sources = {}, set(), []
    for path in (results.RESULTS / name for name in PAIR_FILES):
        if not path.is_file():
            continue
        pair = json.loads(path.read_text())
        sources.append(path.name)
        runs |= {Path(r).name for r in pair["runs"]}
        tag = "" if pair.get("wbf_iou", 0.55) == 0.55 or "fusions" in pair else f"/wbf{pair['wbf_iou']:g}"
        for key, scored in pair["singles"].items():
            if key.split("/")[0] in parts:
                result["routes"].setdefault(key, box_row(result, key, scored, pair))
                candidates.setdefault(key, scored)
        for key, scored in pair["ensembles"].items():
            members = [result["routes"][f"{m}/plain"] for m in scored["members"]]
            result["routes"][key + tag] = {
                **box_row(result, f"{scored['members'][0]}/plain", scored, pair), "members": scored["members"],
                "preset": f"{scored.get('fusion', 'wbf')} ensemble", "wbf_iou": pair.get("wbf_iou", 0.55),
                "epochs": [m["epochs"] for m in members],
                "seconds_per_epoch": [m["seconds_per_epoch"] for m in members],
                "train_seconds": round(sum(m["train_seconds"] for m in members), 1),
                "infer_images_per_second_cpu": {"pytorch": round(scored["images_per_second"], 1)}, **reproduced(scored)}
            candidates[key + tag] = scored
    if result["headline_part"] not in runs:
        return
    chosen = max(candidates, key=lambda k: candidates[k]["valid"]["map50_95"])
    part_name, variant = chosen.split("/", 1)
    route = result["routes"][chosen]
    result.update(kaggle_det=candidates[chosen]["test"], headline_part=part_name, headline_variant=variant,
                  train_seconds=route["train_seconds"],
                  selected_by=result["selected_by"] + f"; then the pair route, on validation ({', '.join(sources)})")
    if "+" in part_name:
        result["infer_images_per_second_cpu"] = route["infer_images_per_second_cpu"]
        result["infer_note"] = ("the pair's speed: both members one after the other through the predictor, with "
                                "the chosen TTA and frame, on the scoring machine")


def box_row(result: dict, key: str, scored: dict, source: dict) -> dict:
    """A route scored by box_map (a benchmark_ensemble.py entry): the row of its model's validator route (part/plain
    or part/tta) with the box_map numbers of both sides and the scoring file's command."""
    part_name, variant = key.split("/", 1)
    return {**result["routes"][f"{part_name}/{variant.split('/')[0]}"],
            "map50": scored["test"]["map50"], "map50_95": scored["test"]["map50_95"],
            "valid_map50": scored["valid"]["map50"], "valid_map50_95": scored["valid"]["map50_95"],
            "per_class_ap50": scored["test"]["per_class_ap50"], "scorer": "box_map",
            "command": source["command"], "git_commit": source["git_commit"], **reproduced(scored)}


def hardware_of(part: dict) -> str:
    """The training device in words: the GPU's name, or the CPU model (parts written before train_hardware)."""
    device = part.get("train_hardware", {}).get("device", "cpu")
    return device if device != "cpu" else f"{part['hardware']['cpu_count']}-core CPU ({part['hardware']['processor']})"


def threads_of(part: dict) -> int | None:
    """The threads torch trained with on a CPU (None on a GPU). Parts written before train_hardware ran before
    `detection.offline.use_every_core`, under ultralytics' own NUM_THREADS: min(8, max(1, cpu_count - 1))."""
    if "train_hardware" in part:
        return part["train_hardware"].get("threads")
    return min(8, max(1, part["hardware"]["cpu_count"] - 1))


def median_epoch(curve: dict) -> float | None:
    """The median seconds of one epoch: robust to the first epoch's set-up and to a run paused or slowed for a
    while by other jobs (the mean of such a run says more about the machine's load than about the route)."""
    seconds = curve.get("seconds") or []
    if not seconds:
        return None
    return round(statistics.median([b - a for a, b in zip([0.0, *seconds], seconds)]), 2)


def seconds_per_epoch(part: dict) -> float:
    """Median epoch where the part has a learning curve, else the mean (parts written before curves were kept)."""
    return (median_epoch(part.get("learning_curve", {})) or part.get("seconds_per_epoch")
            or round(part["train_seconds"] / part["config"]["epochs"], 1))


def curves_png(curves: dict, path: Path) -> None:
    """Validation mAP50-95 of every part with a recorded curve, per epoch and per training minute."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # by epoch and by training time: a GPU epoch and a CPU epoch differ 15-50x in cost
    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for name, curve in sorted(curves.items()):
        line, = by_epoch.plot(curve["epoch"], curve["valid_map50_95"], label=name)
        by_time.plot([s / 60 for s in curve["seconds"]], curve["valid_map50_95"], color=line.get_color())
    by_epoch.set(xlabel="epoch", ylabel="valid mAP50-95")
    by_time.set(xlabel="training minutes (log)", xscale="log")
    for ax in (by_epoch, by_time):
        ax.grid(alpha=0.3)
    by_epoch.legend(fontsize=7)
    fig.suptitle("Detection learning curves (kaggle-det, valid carve-out)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("words", nargs="*", metavar="KEY=VALUE", help="recipe fields, as `defectlab detection train` "
                        f"takes them (default {' '.join(f'{k}={v}' for k, v in DEFAULTS.items())})")
    parser.add_argument("--suffix", default="", help="appended to the part's name, e.g. -gpu")
    parser.add_argument("--no-speed", dest="speed", action="store_false",
                        help="skip the ONNX export and the CPU speed figures (on a GPU machine)")
    parser.add_argument("--parts", type=Path, help="where the part JSON goes (default results/detection_parts)")
    parser.add_argument("--progress", action="store_true", help="show the training's progress bars")
    parser.add_argument("--merge", action="store_true")
    parser.add_argument("--cpu-speeds", nargs="+", metavar="PART", default=[],
                        help="measure this CPU's images/s (PyTorch and ONNX Runtime) of parts trained elsewhere (GPU), "
                             "their run folders under --runs; written into each part with its own provenance")
    parser.add_argument("--runs", type=Path, default=Path("runs/gpu"), help="--cpu-speeds: the run folders")
    args = parser.parse_args(argv)
    from shared.suite import console

    console.setup()  # framework guard and a quiet console before any ML import
    if args.cpu_speeds:
        for name in args.cpu_speeds:
            print(f"{name}: {cpu_speeds(name, args.runs, argv)}")
        return 0
    if args.merge:
        print(f"wrote {merge()}")
        return 0
    from shared.suite.provenance import script_command

    payload = part(args.words, args.suffix, args.speed, args.progress)
    name = Path(payload["run"]).name
    path = results.write_part("detection", name, payload, folder=args.parts, split=SPLIT,
                              fingerprint=training_fingerprint(Path(payload["run"])),
                              command=script_command(__file__, argv))
    print(json.dumps({k: payload[k] for k in ("kaggle_det", "train_seconds", "infer_images_per_second_cpu")}, indent=1))
    print(f"wrote {path}")
    return 0


def training_fingerprint(path: Path) -> str | None:
    """The data fingerprint the run took at train time (data.json)."""
    return json.loads((path / "data.json").read_text()).get("data_fingerprint")


if __name__ == "__main__":
    sys.exit(main())
