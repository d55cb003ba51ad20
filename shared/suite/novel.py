"""The `novel` flag calibrated on known-good pictures of the line, conditioned on the class the classifier names.

Without a calibration a picture is novel when every voting task says so (inspect.novel_rule). Under one
(`novel.calibration=NAME` in inspect / serve, made by `defectlab calibrate`) the rule chosen on validation folds in
scripts/benchmarks/results/novelty.json is in force: each scoring voter's score (its spec's `novelty_score`: a
texture distance, the classifier's energy), standardised by the median and IQR of the calibration's known-good
pictures that the naming voter (its spec's `answer_column`, the class it names) names the same class; the picture
is novel when the largest of them is above a conformal threshold (shared.suite.calibration) of such largest scores.
Score scales differ by class (on NEU the widest class's known pictures score several times the narrowest's), so one
pooled threshold spends its false alarms on the widest; and each score misses a kind the other finds (on NEU the
texture distance misses held-out inclusion, the energy held-out scratches).

The calibration pictures, sorted by path, are taken in turn: the even places give each class's median and IQR, the
odd places the threshold. The scale is fixed before the threshold pictures are looked at, so their standardised
scores and a new known-good picture's are exchangeable, and the guarantee of the threshold holds for the flag.
The file: SCORING_RUN/calibrations/novel/NAME.json (under the first scoring voter's run), with the digests of the
models it was made for. A score a voter leaves out (an ensemble classifier has no energy) is left out of the largest,
for the calibration and after it.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from . import calibration, registry
from .errors import DataError

FOLDER = "novel"    # under the scoring run's calibrations/
MIN_CLASS = 10      # scale pictures of a class below which the pooled median and IQR stand in for its own
MAKE = "`defectlab calibrate PICTURES --false-alarm-rate 0.01 --name NAME`"
OPTION = "novel.calibration"


def roles(tasks=None) -> dict | None:
    """{"scores": [task, ...], "class": task}: the voters whose scores are standardised (the first keeps the
    calibration files) and the one whose answer names the class (None when the loaded tasks lack either). A task
    that names the class may score too (the classifier's energy); the class comes from one that does not score
    where there is one."""
    voters = [t for t in registry.names() if registry.task(t).novelty is not None and (tasks is None or t in tasks)]
    scoring = [t for t in voters if registry.task(t).novelty_score]
    naming = sorted((t for t in voters if registry.task(t).answer_column), key=lambda t: t in scoring)
    if not naming or not [t for t in scoring if t != naming[0]]:
        return None
    return {"scores": sorted(scoring, key=lambda t: t == naming[0]), "class": naming[0]}


def voters_of(parts: dict) -> list[str]:
    return list(dict.fromkeys([*parts["scores"], parts["class"]]))


def required_pictures(alpha: float, confidence: float | None = None) -> int:
    """Half the pictures set the threshold: twice what the threshold alone needs."""
    return 2 * calibration.required_pictures(alpha, confidence)


def path_of(runs: dict, name: str) -> Path:
    parts = roles(list(runs))
    if parts is None:
        raise ValueError(f"{OPTION}={name}: the novel flag is calibrated with a scoring and a naming voter; loaded: "
                         f"{', '.join(runs)}")
    found = calibration.path_of(runs[parts["scores"][0]], name)
    return found.parent / FOLDER / found.name


def scores_and_class(record: dict, parts: dict) -> tuple[dict, str] | None:
    """({task: score}, the named class) of a record; None when a voter did not answer. A voter's part without its
    score field gives no score (an ensemble classifier's energy)."""
    if any(not record.get(task) for task in voters_of(parts)):
        return None
    spec = registry.task(parts["class"])
    fields = {task: registry.task(task).novelty_score for task in parts["scores"]}
    scores = {task: float(record[task][field]) for task, field in fields.items() if record[task].get(field) is not None}
    return scores, str(spec.columns(record[parts["class"]])[spec.answer_column])


def _spread(values) -> dict:
    q1, median, q3 = np.quantile(np.asarray(values, float), (0.25, 0.5, 0.75))
    return {"median": float(median), "iqr": float(q3 - q1), "n": len(values)}


def scale_of(scores, classes) -> dict:
    """{"pooled": {median, iqr, n}, "per_class": {class: ...}} of the scale pictures; classes with fewer than
    MIN_CLASS pictures keep the pooled numbers."""
    scores, classes = np.asarray(scores, float), np.asarray(classes, object)
    return {"pooled": _spread(scores), "min_class": MIN_CLASS,
            "per_class": {str(c): _spread(scores[classes == c]) for c in sorted(set(classes))
                          if (classes == c).sum() >= MIN_CLASS}}


def standardise(score: float, klass: str, scale: dict) -> float:
    spread = scale["per_class"].get(klass, scale["pooled"])
    floor = max(1e-6 * scale["pooled"]["iqr"], 1e-12)  # a class of equal scores must not divide by zero
    return (score - spread["median"]) / max(spread["iqr"], floor)


def scales_of(found: list[tuple[dict, str]]) -> dict:
    """{task: scale_of(...)} of each score the scale pictures carry (the class each was named)."""
    tasks = dict.fromkeys(task for scores, _ in found for task in scores)
    return {task: scale_of([s[task] for s, _ in found if task in s], [c for s, c in found if task in s])
            for task in tasks}


def largest(scores: dict, klass: str, scales: dict) -> float | None:
    """The largest of the scores standardised for the class (scores without a scale left out; None if none)."""
    standard = [standardise(v, klass, scales[task]) for task, v in scores.items() if task in scales]
    return max(standard) if standard else None


def model_digest(run) -> str:
    return hashlib.sha256((Path(run.path) / run.MODEL_FILE).read_bytes()).hexdigest()


def calibrate(runs: dict, pictures, alpha: float, confidence: float | None = None, name: str = "line",
              force: bool = False, options: dict | None = None, progress: bool = False) -> dict:
    """Score the known-good pictures with the voters' runs ({task: run folder}; `options` their predict options
    as inspect runs them), set the scale and the threshold (module doc), write the calibration and return it.
    Too few pictures: a one-line DataError saying how many are needed, before anything is scored."""
    from ..datasets.images import expand_globs, expand_image_inputs

    target = path_of(runs, name)  # refuses runs without a scoring and a naming voter
    parts = roles(list(runs))
    runs = {task: Path(runs[task]) for task in voters_of(parts)}
    pictures = [str(p) for p in ([pictures] if isinstance(pictures, (str, Path)) else pictures)]
    where = pictures[0] if len(pictures) == 1 else f"{pictures[0]} (+{len(pictures) - 1})"
    items = sorted(expand_image_inputs(expand_globs(pictures)), key=str)
    needed = required_pictures(alpha, confidence)
    if len(items) < needed:
        at = "" if confidence is None else f" at confidence {confidence:g}"
        raise DataError(where, f"{len(items)} known-good pictures are too few for the novel flag at a false-alarm "
                               f"rate of {alpha:g}{at}: {needed} are needed (half set each class's scale, half the "
                               "threshold)")
    if target.exists() and not force:
        raise DataError(target, "a calibration of this name exists; choose another --name or pass --force")
    options = {task: {k: v for k, v in (options or {}).get(task, {}).items() if k != "calibration"}
               for task in runs}
    loaded = {task: registry.task(task).load(path) for task, path in runs.items()}
    # each voter's records side by side, as inspect joins them (inspect imports this module, not the other way)
    answers = {task: run.predictor(**options[task]).predict(items, progress=progress) for task, run in loaded.items()}
    records = [{"image": str(item), **{task: answers[task][k] for task in answers}} for k, item in enumerate(items)]
    for record in records:
        failed = [part["error"] for part in (record[t] for t in answers) if "error" in part]
        if failed:
            record.update({"error": failed[0], **{t: None for t in answers}})
    judged = [(place, found) for place, found in enumerate(scores_and_class(r, parts) for r in records)
              if found is not None]
    unreadable = [r["error"] for r in records if "error" in r]
    scale = scales_of([found for place, found in judged if place % 2 == 0])
    standard = [v for v in (largest(s, c, scale) for place, (s, c) in judged if place % 2 == 1) if v is not None]
    try:
        found = calibration.conformal_threshold(standard, alpha, confidence)
    except ValueError as error:
        raise DataError(where, f"{error} ({len(unreadable)} of the {len(items)} could not be read)") from None
    payload = {
        **found.to_dict(), "roles": parts, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pictures": [str(Path(p).resolve()) for p in pictures],
        "pictures_fingerprint": calibration.fingerprint(p for p in items if isinstance(p, Path)),
        "unreadable": unreadable, "scale": scale,
        "runs": {task: {"path": str(run.path.resolve()), "model_sha256": model_digest(run)}
                 for task, run in loaded.items()},
        "scored_with": options, "classes_named": dict(sorted(Counter(k for _, (_, k) in judged).items())),
        "scored": {task: sum(task in s for _, (s, _) in judged) for task in parts["scores"]},
        "score_summary": calibration.summary(standard), "scores": sorted(standard)}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps({"name": name, **payload}, indent=2) + "\n")
    partial.replace(target)
    return {"path": str(target), "name": name, **payload}


def read(runs: dict, name: str) -> dict:
    target = path_of(runs, name)
    if not target.is_file():
        there = sorted(p.stem for p in target.parent.glob("*.json"))
        listed = f"these runs have {', '.join(there)}" if there else "these runs have none"
        raise DataError(target, f"no such novel calibration ({listed}); make one with {MAKE}")
    try:
        found = upgraded(json.loads(target.read_text()))
        float(found["threshold"]), float(found["alpha"]), list(found["scores"])
        [dict(scale["per_class"]) for scale in found["scale"].values()]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DataError(target, f"not a novel calibration file ({' '.join(str(error).split())})") from None
    return found


def upgraded(found: dict) -> dict:
    """A calibration of one score (files made before the classifier's energy was a score) in today's form."""
    if "score" in found.get("roles", {}):
        roles = {"scores": [found["roles"]["score"]], "class": found["roles"]["class"]}
        return {**found, "roles": roles, "scale": {roles["scores"][0]: found["scale"]}}
    return found


class Calibrated:
    """A novel calibration in force: judges records and watches the standardised scores that follow."""

    def __init__(self, found: dict, path: Path):
        self.found, self.path, self.name = found, path, found["name"]
        self.parts, self.scale, self.threshold = found["roles"], found["scale"], float(found["threshold"])
        self.watcher = calibration.Watch(found["scores"], self.threshold, found["alpha"], self.name)

    def judge(self, record: dict) -> dict:
        """{"novel", "novel_score", "novel_calibration"} of a record; {} when a voter did not answer."""
        found = scores_and_class(record, self.parts)
        value = None if found is None else largest(*found, self.scale)
        if value is None:
            return {}
        self.watcher.add([value])
        return {"novel": bool(value > self.threshold), "novel_score": round(value, 4), "novel_calibration": self.name}

    def describe(self) -> dict:
        kept = ("name", "threshold", "alpha", "confidence", "form", "n", "k", "guarantee", "created_at", "pictures",
                "pictures_fingerprint", "roles", "scale")
        return {**{k: self.found.get(k) for k in kept}, "drift": self.watcher.summary()}


def load(runs: dict, name: str, options: dict | None = None, loaded: dict | None = None) -> Calibrated:
    """The calibration NAME of these runs ({task: run folder}; `loaded`: those opened already), checked: made for
    both model files (else refused), scored the same way (else a warning: the guarantee is for the scores it was
    calibrated on)."""
    found, where = read(runs, name), path_of(runs, name)
    parts = found["roles"]
    for task in voters_of(parts):
        run = (loaded or {}).get(task) or registry.task(task).load(runs[task])
        if found["runs"].get(task, {}).get("model_sha256") != model_digest(run):
            raise DataError(where, f"made for another {task} {run.MODEL_FILE} than {runs[task]}'s; calibrate again "
                                   f"with {MAKE}")
        now = {k: v for k, v in (options or {}).get(task, {}).items() if k != "calibration"}
        then = found.get("scored_with", {}).get(task, {})
        differs = sorted(k for k in set(now) | set(then) if now.get(k, then.get(k)) != then.get(k, now.get(k)))
        if differs:
            print(f"defectlab: warning: {where}: {task} calibrated with {then}, running with {now}; the guarantee "
                  "is for the scores it was calibrated on", file=sys.stderr)
    return Calibrated(found, where)


def split_option(pairs) -> tuple[str | None, list[str]]:
    """(the novel calibration's name, the other TASK.OPTION=VALUE words) of prediction option words."""
    name, rest = None, []
    for pair in pairs:
        head, _, value = pair.partition("=")
        if head.replace("-", "_") == OPTION:
            name = value or None
        elif head.split(".")[0] == "novel":
            raise ValueError(f"{pair!r}: the novel flag takes {OPTION}=NAME alone")
        else:
            rest.append(pair)
    return name, rest
