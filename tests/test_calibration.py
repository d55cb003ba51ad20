"""Calibrated thresholds and the drift watch (shared.suite.calibration), on synthetic scores: the guarantees hold
over many seeded calibration sets, each judged on a fresh sample of known-good scores."""
import math

import numpy as np
import pytest
from scipy.stats import beta, binom

from shared.suite.calibration import (
    Watch,
    conformal_threshold,
    rank,
    refusal,
    required_pictures,
    stability_index,
)

DRAWS, FRESH = 2000, 5000  # calibration sets per setting; known-good scores judging each


def test_299_pictures_for_one_percent_at_95_percent_and_99_for_the_expected_form():
    assert required_pictures(0.01, 0.95) == 299  # 1 - 0.99^n >= 0.95 first at n = 299 (298.07)
    assert required_pictures(0.01) == 99  # ceil((n + 1) * 0.99) <= n first at n = 99
    assert rank(298, 0.01, 0.95) is None and rank(299, 0.01, 0.95) == 299 and rank(98, 0.01) is None
    for alpha in (0.003, 0.01, 0.05, 0.1, 0.25):
        assert required_pictures(alpha) == math.ceil(round(1 / alpha - 1, 9))
        for confidence in (0.5, 0.9, 0.95, 0.99):
            assert required_pictures(alpha, confidence) == math.ceil(math.log(1 - confidence) / math.log(1 - alpha))


def test_the_binomial_tail_is_the_order_statistics_beta():
    """P(U_(k) >= 1 - alpha) with U_(k) ~ Beta(k, n + 1 - k) equals P(Binomial(n, 1 - alpha) <= k - 1), the form
    `rank` computes; its k is the smallest that reaches the confidence."""
    n, alpha, confidence = 120, 0.05, 0.9
    ks = np.arange(1, n + 1)
    held = beta.sf(1 - alpha, ks, n + 1 - ks)
    assert np.allclose(held, binom.cdf(ks - 1, n, 1 - alpha), atol=1e-12)
    k = rank(n, alpha, confidence)
    assert held[k - 1] >= confidence > held[k - 2]
    assert rank(300, 0.01) == 298 and rank(300, 0.01, 0.95) == 300


def test_too_few_pictures_is_a_one_line_refusal_naming_how_many():
    with pytest.raises(ValueError) as error:
        conformal_threshold(np.arange(12.0), 0.01, 0.95)
    assert str(error.value) == refusal(12, 0.01, 0.95) == ("12 known-good pictures are too few for a false-alarm rate "
                                                           "of 0.01 at confidence 0.95: 299 are needed")
    with pytest.raises(ValueError, match=r"^98 known-good pictures are too few .* 0.01: 99 are needed$"):
        conformal_threshold(np.arange(98.0), 0.01)
    with pytest.raises(ValueError, match="between 0 and 1"):
        conformal_threshold(np.arange(500.0), 1.5)


@pytest.mark.parametrize(("n", "alpha", "confidence"), [(300, 0.01, 0.95), (60, 0.1, 0.9)])
def test_the_guarantees_hold_over_many_calibration_sets(n, alpha, confidence):
    """DRAWS calibration sets of n known-good scores (a skewed continuous law), each judged on FRESH new known-good
    scores. Expected form: the mean false-alarm rate is <= alpha, and near the bound (n + 1 - k) / (n + 1), so the
    threshold is not needlessly high; tolerance 4 standard errors of the mean over the draws (its spread measured
    on the draws, the fresh sample's binomial noise included). High-probability form: the rate is <= alpha in at
    least `confidence` of the draws, less 3 binomial standard errors of a share over DRAWS (0.015 at 0.95) and the
    fresh sample's own noise, which moves a rate near alpha across it: the share a FRESH-sized sample is expected to
    show is below the true one by 0.0015 (n=300) and 0.0005 (n=60), computed from Beta(n + 1 - k, k); 0.003 is
    allowed."""
    rng = np.random.default_rng(0)
    expected, confident = rank(n, alpha), rank(n, alpha, confidence)
    rates = {"expected": [], "confident": []}
    for start in range(0, DRAWS, 250):
        calibration = np.sort(rng.gamma(2.0, size=(250, n)), axis=1)
        fresh = rng.gamma(2.0, size=(250, FRESH))
        for form, k in (("expected", expected), ("confident", confident)):
            rates[form].append((fresh > calibration[:, k - 1:k]).mean(axis=1))
    expected_rates, confident_rates = np.concatenate(rates["expected"]), np.concatenate(rates["confident"])
    error = 4 * expected_rates.std() / math.sqrt(DRAWS)
    bound = (n + 1 - expected) / (n + 1)
    assert bound <= alpha
    assert expected_rates.mean() <= alpha + error
    assert expected_rates.mean() >= bound - error
    held = (confident_rates <= alpha).mean()
    assert held >= confidence - 3 * math.sqrt(confidence * (1 - confidence) / DRAWS) - 0.003
    # the calibrated thresholds of one set, as the function gives them
    one = rng.gamma(2.0, size=n)
    assert conformal_threshold(one, alpha).threshold == np.sort(one)[expected - 1]
    found = conformal_threshold(one, alpha, confidence)
    assert (found.threshold, found.k, found.form) == (np.sort(one)[confident - 1], confident, "high-probability")
    assert f"probability >= {confidence:g}" in found.guarantee


def _watch(shift: float = 1.0, seed: int = 0, recent: int = 1000) -> dict:
    rng = np.random.default_rng(seed)
    reference = rng.gamma(2.0, size=300)
    found = conformal_threshold(reference, 0.05, 0.95)
    watch = Watch(reference, found.threshold, found.alpha, "week12")
    watch.add(shift * rng.gamma(2.0, size=recent))
    return watch.summary()


def test_a_shifted_score_sample_raises_the_warning_and_an_unshifted_one_does_not():
    calm = _watch()
    assert calm["holds"] is True and calm["warning"] is None and calm["ks_pvalue"] > 0.01 and calm["psi"] < 0.1
    shifted = _watch(shift=1.6)
    assert shifted["holds"] is False and shifted["alarm_pvalue"] < 0.01 and shifted["ks_pvalue"] < 0.01
    assert shifted["psi"] > 0.25 and "\n" not in shifted["warning"]
    assert shifted["warning"].startswith("calibration 'week12' no longer holds, the false-alarm rate 0.05 is not")
    unjudged = _watch(shift=1.6, recent=20)  # too few to judge
    assert unjudged["holds"] is None and unjudged["warning"] is None and unjudged["recent"] == 20


def test_unshifted_samples_rarely_warn():
    """Without drift a warning needs a test at p < 0.01 (KS), or a calibration set whose own rate is above alpha
    (at most 5% of them at confidence 0.95): at most about 6% of seeds; here 100 seeds."""
    warned = sum(_watch(seed=seed)["holds"] is False for seed in range(100))
    assert warned <= 10


def test_the_watch_keeps_only_the_last_window_of_scores():
    watch = Watch(np.arange(100.0), 95.0, 0.05, "x", window=50)
    for _ in range(40):
        watch.add(np.arange(25.0))
    summary = watch.summary()
    assert len(watch.recent) == summary["recent"] == 50 and summary["seen"] == 1000
    assert stability_index(np.arange(1000.0), np.arange(1000.0)) == pytest.approx(0.0, abs=1e-9)


def test_conditioning_on_the_predicted_class_spends_false_alarms_where_novel_pictures_are():
    """The novelty benchmark's `_by_class` score on two known classes with other score scales: one pooled threshold
    sits in the wide class's tail and misses novel pictures named the narrow class; standardised per class, the
    same false-alarm rate finds them. Cross-calibration (even numbers for odd ones) keeps the rate near alpha."""
    from scripts.benchmarks.anomaly.benchmark_novelty import by_class, on_line

    rng = np.random.default_rng(0)
    n = 400  # per known class; then the novel pictures, all named class 0
    raw = np.r_[rng.normal(10, 1, n), rng.normal(30, 5, n), rng.normal(15, 1, 200)]
    pred = np.r_[np.zeros(n, int), np.ones(n, int), np.zeros(200, int)]
    number = np.arange(len(raw)) // 2  # the known pictures judged alternate even / odd numbers
    reference = np.r_[np.arange(0, n, 2), np.arange(n, 2 * n, 2)]  # even known pictures standardise ...
    known = np.r_[np.arange(1, n, 2), np.arange(n + 1, 2 * n, 2)]  # ... odd ones calibrate and are judged
    novel = np.arange(2 * n, len(raw))
    scores = by_class({"s": raw}, {"s": raw}, reference, pred)
    pooled, conditioned = (on_line(scores[k], known, novel, number, 0.02) for k in ("s", "s_by_class"))
    assert pooled["recall"] < 0.05 and conditioned["recall"] > 0.95
    assert pooled["false_alarm_rate"] <= 0.05 and conditioned["false_alarm_rate"] <= 0.05
