"""Thresholds a user calibrates on known-good pictures of the line, and a watch on whether they still hold. Scores
in, numbers out (numpy, scipy.stats); no ML framework, no task.

Calibration (split conformal). n known-good pictures' scores, sorted s_(1) <= ... <= s_(n); a picture alarms
when its score is above t = s_(k). For a new known-good picture exchangeable with them (the same line, the same
model):
- expected form: k = ceil((n + 1)(1 - alpha)). The new score's rank among the n + 1 is uniform, so
  P(false alarm) <= (n + 1 - k) / (n + 1) <= alpha, over calibration sets and new pictures together. One set's
  own rate may be above alpha.
- high-probability form: the share of known-good pictures at or below s_(k) is U_(k), the k-th smallest of n
  uniforms (continuous scores), Beta(k, n + 1 - k). The smallest k with P(U_(k) >= 1 - alpha) >= confidence makes
  the set's false-alarm rate <= alpha for at least `confidence` of calibration sets. U_(k) >= p exactly when fewer
  than k of the n uniforms fall below p, so P(U_(k) >= p) = P(Binomial(n, p) <= k - 1). At k = n this is
  1 - (1 - alpha)^n: alpha 0.01 at 0.95 needs n >= log(0.05) / log(0.99) = 298.1, so 299 pictures.
Ties among scores only lower the rate (an alarm is a score strictly above t).

The watch: the last `window` scores against the calibration's, a binomial test of the alarms among them against
alpha, a two-sample Kolmogorov-Smirnov test and a population stability index over the calibration's deciles.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import DataError

FOLDER = "calibrations"  # RUN/calibrations/NAME.json
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
WINDOW = 1000       # recent scores watched: memory stays bounded whatever the traffic
MIN_RECENT = 30     # fewer recent scores: the watch reports, but does not judge
SIGNIFICANCE = 0.01  # p-value under which a test says the calibration no longer holds


def _exact(value: float) -> Fraction:
    """A rate as the user wrote it (0.01 is 1/100, not the float just below), so k comes out exact."""
    return Fraction(repr(float(value)))


def _check(alpha: float, confidence: float | None) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"false-alarm rate {alpha!r}: want a number between 0 and 1, e.g. 0.01")
    if confidence is not None and not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence!r}: want a number between 0 and 1, e.g. 0.95")


def rank(n: int, alpha: float, confidence: float | None = None) -> int | None:
    """k: the threshold is the k-th smallest of n calibration scores; None when n is too few for the request."""
    _check(alpha, confidence)
    if n < 1:
        return None
    if confidence is None:
        k = math.ceil((n + 1) * (1 - _exact(alpha)))
        return k if k <= n else None
    from scipy.stats import binom

    ks = np.arange(1, n + 1)
    held = binom.cdf(ks - 1, n, 1 - alpha) >= confidence  # P(U_(k) >= 1 - alpha), rising with k
    return int(ks[held][0]) if held.any() else None


def required_pictures(alpha: float, confidence: float | None = None) -> int:
    """The fewest calibration pictures for which `rank` has a k (expected form: ceil(1/alpha - 1); high-probability
    form: ceil(log(1 - confidence) / log(1 - alpha))), checked against `rank` itself."""
    _check(alpha, confidence)
    if confidence is None:
        n = max(1, math.ceil(1 / _exact(alpha) - 1))
    else:
        n = max(1, math.ceil(math.log1p(-confidence) / math.log1p(-alpha)))
    while n > 1 and rank(n - 1, alpha, confidence) is not None:  # the closed form's rounding, either way
        n -= 1
    while rank(n, alpha, confidence) is None:
        n += 1
    return n


def refusal(n: int, alpha: float, confidence: float | None = None) -> str:
    """The one line that says a request needs more pictures, and how many."""
    at = "" if confidence is None else f" at confidence {confidence:g}"
    return (f"{n} known-good picture{'s' if n != 1 else ''} {'are' if n != 1 else 'is'} too few for a false-alarm "
            f"rate of {alpha:g}{at}: {required_pictures(alpha, confidence)} are needed")


@dataclass(frozen=True)
class Calibration:
    threshold: float
    alpha: float
    confidence: float | None
    n: int
    k: int

    @property
    def form(self) -> str:
        return "expected" if self.confidence is None else "high-probability"

    @property
    def guarantee(self) -> str:
        which = f"the {_ordinal(self.k)} smallest of {self.n} known-good scores"
        if self.confidence is None:
            bound = (self.n + 1 - self.k) / (self.n + 1)
            return (f"expected false-alarm rate <= {self.alpha:g} (at most {bound:.4g}) on known-good pictures like "
                    f"the calibration ones, averaged over calibration sets; threshold: {which}")
        return (f"false-alarm rate <= {self.alpha:g} on known-good pictures like the calibration ones, with "
                f"probability >= {self.confidence:g} over calibration sets; threshold: {which}")

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "alpha": self.alpha, "confidence": self.confidence, "form": self.form,
                "n": self.n, "k": self.k, "guarantee": self.guarantee}


def _ordinal(k: int) -> str:
    tail = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{tail}"


def conformal_threshold(scores, alpha: float, confidence: float | None = None) -> Calibration:
    """The threshold of known-good pictures' scores for a false-alarm rate alpha: expected (confidence None) or
    with probability >= confidence (module doc). Too few scores: a one-line ValueError saying how many."""
    values = np.sort(np.asarray(scores, dtype=float).ravel())
    if not np.isfinite(values).all():
        raise ValueError("calibration scores must be finite numbers")
    k = rank(len(values), alpha, confidence)
    if k is None:
        raise ValueError(refusal(len(values), alpha, confidence))
    return Calibration(float(values[k - 1]), float(alpha), None if confidence is None else float(confidence),
                       len(values), k)


def summary(scores) -> dict:
    """A score distribution in a few numbers."""
    values = np.asarray(scores, dtype=float)
    points = dict(zip(("min", "p10", "p50", "p90", "p99", "max"),
                      np.quantile(values, [0, 0.1, 0.5, 0.9, 0.99, 1]).tolist()))
    return {"count": len(values), "mean": float(values.mean()), **points}


def fingerprint(paths) -> str:
    """sha256 of the pictures' bytes, order and names left out: the same pictures anywhere give the same one."""
    digests = sorted(hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths)
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


# -- calibration files: RUN/calibrations/NAME.json, the run's own threshold left as it is ----------------------

def path_of(run: str | Path, name: str) -> Path:
    if not NAME.match(name or ""):
        raise ValueError(f"calibration name {name!r}: want letters, digits, '.', '_' or '-' (up to 64), e.g. "
                         "line-week12")
    return Path(run) / FOLDER / f"{name}.json"


def default_name(pictures) -> str:
    """The pictures' folder name (one folder given), else 'line': a week's folder names its calibration."""
    given = [Path(p) for p in pictures]
    stem = given[0].resolve().name if len(given) == 1 and given[0].is_dir() else "line"
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip(".-_")[:64]
    return cleaned or "line"


def names(run: str | Path) -> list[str]:
    return sorted(p.stem for p in (Path(run) / FOLDER).glob("*.json"))


def write(run: str | Path, name: str, payload: dict, force: bool = False) -> Path:
    """Written to a temporary name, then renamed: a reader never sees half a file."""
    target = path_of(run, name)
    if target.exists() and not force:
        raise DataError(target, "a calibration of this name exists; choose another --name or pass --force to "
                                "replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps({"name": name, **payload}, indent=2) + "\n")
    partial.replace(target)
    return target


def read(run: str | Path, name: str, make: str = "") -> dict:
    """A calibration of the run; a missing one is a one-line DataError naming those there and `make`, the command
    that makes one."""
    target = path_of(run, name)
    if not target.is_file():
        there = names(run)
        listed = f"this run has {', '.join(there)}" if there else "this run has none"
        raise DataError(target, f"no such calibration ({listed}){'; make one with ' + make if make else ''}")
    try:
        found = json.loads(target.read_text())
        float(found["threshold"]), float(found["alpha"]), list(found["scores"])
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(target, f"not a calibration file ({' '.join(str(error).split())})") from None
    return found


# -- the watch ------------------------------------------------------------------------------------------------

def stability_index(reference, recent, bins: int = 10) -> float:
    """Population stability index of recent scores over the reference's quantile bins (deciles): sum of
    (recent share - reference share) * ln(recent share / reference share); shares floored at 1e-4 so that an
    empty bin counts as a large change, not an infinite one. Under 0.1 is usually read as stable, over 0.25 as
    shifted."""
    reference, recent = np.asarray(reference, float), np.asarray(recent, float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    actual = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=len(edges) + 1)
    e = np.maximum(expected / expected.sum(), 1e-4)
    a = np.maximum(actual / max(actual.sum(), 1), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


class Watch:
    """The last `window` scores of a calibrated predictor against its calibration's scores. Thread-safe: the
    inspection's threads and a service's requests add to it while /metrics reads it."""

    def __init__(self, reference, threshold: float, alpha: float, name: str = "", window: int = WINDOW):
        self.reference = np.sort(np.asarray(reference, dtype=float))
        self.threshold, self.alpha, self.name = float(threshold), float(alpha), name
        self.recent = deque(maxlen=window)
        self.seen = 0
        self.lock = threading.Lock()

    def add(self, scores) -> None:
        with self.lock:
            self.recent.extend(float(s) for s in scores)
            self.seen += len(scores)

    def summary(self) -> dict:
        """What the recent scores say of the calibration: `holds` False (and a one-line `warning`) when the alarms
        among them are significantly more than alpha (binomial test) or their distribution is not the
        calibration's (KS), each at p < 0.01; None while there are fewer than MIN_RECENT."""
        from scipy.stats import binomtest, ks_2samp

        with self.lock:
            recent, seen = np.array(self.recent, dtype=float), self.seen
        found = {"calibration": self.name, "threshold": self.threshold, "alpha": self.alpha,
                 "calibration_pictures": len(self.reference), "recent": len(recent), "window": self.recent.maxlen,
                 "seen": seen}
        if len(recent) == 0:
            return {**found, "holds": None, "warning": None}
        above = int((recent > self.threshold).sum())
        alarms = binomtest(above, len(recent), self.alpha, alternative="greater").pvalue
        ks = ks_2samp(recent, self.reference)
        found.update(above_threshold=above, alarm_share=above / len(recent), alarm_pvalue=float(alarms),
                     ks_statistic=float(ks.statistic), ks_pvalue=float(ks.pvalue),
                     psi=stability_index(self.reference, recent), recent_scores=summary(recent))
        if len(recent) < MIN_RECENT:
            return {**found, "holds": None, "warning": None}
        reasons = []
        if alarms < SIGNIFICANCE:
            reasons.append(f"{above} of the last {len(recent)} pictures ({above / len(recent):.1%}) are above the "
                           f"threshold, more than {self.alpha:g} allows (binomial p {alarms:.1e})")
        if ks.pvalue < SIGNIFICANCE:
            reasons.append(f"their scores are unlike the calibration pictures' (KS {ks.statistic:.2f}, p "
                           f"{ks.pvalue:.1e}; PSI {found['psi']:.2f})")
        warning = None
        if reasons:
            warning = (f"calibration {self.name!r} no longer holds, the false-alarm rate {self.alpha:g} is not "
                       f"guaranteed: {'; '.join(reasons)}. Recalibrate on recent known-good pictures (or look for "
                       "a run of real defects)")
        return {**found, "holds": not reasons, "warning": warning}
