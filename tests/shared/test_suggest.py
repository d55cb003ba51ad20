"""The ranking of `defectlab labels suggest`, as pure functions over arrays (k-center greedy against brute force,
doubt from margins, boxes and novelty, reasons), and one CLI call on an inspect output without models."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from shared.suite import suggest
from shared.suite.cli import main


def _min_distances(points, centres):
    return np.min(np.linalg.norm(points[:, None] - centres[None], axis=2), axis=1)


@pytest.mark.parametrize("seed", range(5))
def test_k_center_greedy_takes_the_farthest_picture_each_time(seed):
    rng = np.random.default_rng(seed)
    features, labelled = rng.normal(size=(40, 5)), rng.normal(size=(3, 5))
    candidates = rng.permutation(40)[:25]
    chosen, distances = suggest.k_center_greedy(features, 6, labelled, candidates)
    centres = list(labelled)
    for pick, distance in zip(chosen, distances):
        left = [c for c in candidates if c not in chosen[:chosen.index(pick)]]
        gaps = _min_distances(features[left], np.array(centres))
        assert distance == pytest.approx(gaps.max()) and pick in candidates
        assert _min_distances(features[[pick]], np.array(centres))[0] == pytest.approx(gaps.max())  # brute force
        centres.append(features[pick])


def test_k_center_greedy_is_within_twice_the_best_cover():
    rng = np.random.default_rng(7)
    features = rng.normal(size=(12, 2))
    chosen, _ = suggest.k_center_greedy(features, 3)
    greedy = _min_distances(features, features[chosen]).max()
    best = min(_min_distances(features, features[list(c)]).max() for c in itertools.combinations(range(12), 3))
    assert best <= greedy <= 2 * best + 1e-9


def test_signals_and_ranks():
    p = np.array([[0.5, 0.5, 0.0], [0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3]])
    margin = suggest.margin(p, ["a", "b", "c"])
    assert margin.doubt == pytest.approx([1.0, 0.15, 1.0]) and margin.text[1] == "margin 0.85 (a vs b)"
    entropy = suggest.entropy(p, ["a", "b", "c"])
    assert entropy.doubt[2] == pytest.approx(1.0) and entropy.doubt[1] < entropy.doubt[0] < 1
    assert suggest.box_doubt([[0.9, 0.3], [], [0.8]]).doubt == pytest.approx([0.7, 1.0, 0.2])
    assert suggest.novelty(np.array([2.0, 0.5]), np.array([1.0, 1.0])).doubt == pytest.approx([2.0, 0.5])
    assert suggest.ranks(np.array([3, 1, 2, 2, np.nan])) == pytest.approx([1.0, 0.0, 0.5, 0.5, 0.5])


def test_rank_takes_doubt_first_then_diversity_and_says_why():
    rng = np.random.default_rng(0)
    doubt = np.linspace(0, 1, 30)
    signal = suggest.Signal("margin", doubt, [f"margin {1 - d:.2f}" for d in doubt])
    alone = suggest.rank([signal], 4)
    assert [p.index for p in alone] == [29, 28, 27, 26] and alone[0].reason == "margin 0.00 (#1 of 30)"
    features = np.repeat(np.eye(3), 10, axis=0)[rng.permutation(30)] + rng.normal(0, 0.01, (30, 3))
    picks = suggest.rank([signal], 3, features, shortlist=4)
    assert all(p.index >= 18 for p in picks)                            # from the 12 most doubtful
    assert len({tuple(np.round(features[p.index])) for p in picks}) == 3  # one of each look
    assert picks[0].index == 29 and "first pick" in picks[0].reason and "new look" in picks[1].reason
    assert len(suggest.rank([], 5, features)) == 5                      # no model: diversity alone
    assert suggest.rank([signal], 0) == []


def test_suggest_on_an_inspect_output_writes_the_ranking_a_sheet_and_the_chosen_records(synthetic_root, tmp_path,
                                                                                         capsys):
    pictures = sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("*_1?.jpg"))[:12]
    records = [{"image": str(p), "width": 200, "height": 200,
                "classification": {"class": "crazing", "confidence": 0.5 + k / 30,
                                   "probabilities": {"crazing": 0.5 + k / 30, "patches": 0.5 - k / 30}},
                "detection": {"boxes": [{"class": "crazing", "confidence": 0.9, "xmin": 1, "ymin": 1, "xmax": 9,
                                         "ymax": 9}] if k % 2 else []},
                "anomaly": {"score": k / 10, "threshold": 1.0, "is_anomalous": False}}
               for k, p in enumerate(pictures)]
    (tmp_path / "predictions.json").write_text(json.dumps(records))
    out = tmp_path / "next"
    assert main(["labels", "suggest", "--results", str(tmp_path), "--budget", "4", "--features", "none",
                 "--out", str(out)]) == 0
    import pandas as pd

    table = pd.read_csv(out / "suggested.csv")
    assert list(table["rank"]) == [1, 2, 3, 4] and table["reason"].str.contains("margin").all()
    assert {"margin", "box_confidence", "novelty"} <= set(table.columns)
    assert table["image"][0] == str(pictures[0])  # closest margin, no box found
    chosen = json.loads((out / "predictions.json").read_text())
    assert [r["image"] for r in chosen] == list(table["image"])
    assert (out / "contact_sheet.png").stat().st_size > 0
    assert main(["labels", "export", str(out), "--to", "coco", "--out", str(tmp_path / "coco")]) == 0
