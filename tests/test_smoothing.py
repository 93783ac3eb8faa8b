"""Randomized smoothing (Cohen et al. 2019): statistics, certificates, bad arguments."""

import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_svae.experiments import smoothing

SHAPE = (4, 4, 1)


def constant(label, num_classes=10):
    """A base classifier that always answers `label`."""
    def classify(images):
        return ops.one_hot(ops.full((ops.shape(images)[0],), label, "int32"), num_classes)
    return classify


def half_space(images):
    """Class 1 where the first pixel exceeds 0, else 0: a linear decision boundary."""
    first = ops.reshape(images, (ops.shape(images)[0], -1))[:, 0]
    return ops.stack([-first, first], axis=-1)


def coin(images):
    """Class 1 where the mean pixel exceeds 0: on x = 0, a fair coin of the noise."""
    mean = ops.mean(ops.reshape(images, (ops.shape(images)[0], -1)), axis=-1)
    return ops.stack([-mean, mean], axis=-1)


@pytest.mark.parametrize("successes,trials,alpha", [(7, 10, 0.05), (990, 1000, 0.001),
                                                    (1000, 1000, 0.001), (1, 50, 0.01)])
def test_clopper_pearson_lower_bound_is_the_beta_quantile(successes, trials, alpha):
    # The exact one-sided bound: the alpha quantile of Beta(k, n - k + 1).
    expected = stats.beta.ppf(alpha, successes, trials - successes + 1)
    assert smoothing.lower_confidence_bound(successes, trials, alpha) == pytest.approx(expected)
    assert smoothing.lower_confidence_bound(0, trials, alpha) == 0.0


def test_a_constant_classifier_gets_the_largest_radius_n_draws_allow():
    x = np.zeros(SHAPE, "float32")
    label, radius = smoothing.certify(constant(3), x, 0.7, n0=10, n=200, alpha=0.001,
                                      batch_size=64, seed=0)
    assert label == 3
    assert radius == pytest.approx(0.7 * stats.norm.ppf(0.001 ** (1 / 200)))
    assert radius == pytest.approx(smoothing.max_radius(0.7, 200, 0.001))
    assert smoothing.predict(constant(3), x, 0.7, n=50, alpha=0.001, batch_size=16) == 3


def test_a_fair_coin_of_the_noise_abstains():
    x = np.zeros(SHAPE, "float32")
    assert smoothing.certify(coin, x, 0.5, n0=20, n=400, alpha=0.001, num_classes=2,
                             batch_size=100, seed=1) == (smoothing.ABSTAIN, 0.0)
    assert smoothing.predict(coin, x, 0.5, n=400, alpha=0.001, num_classes=2,
                             batch_size=100, seed=1) == smoothing.ABSTAIN


def test_the_noise_has_the_smoothing_std():
    """P(x_0 + sigma eps > 0) = Phi(x_0 / sigma): the counts agree to 5 standard errors."""
    x = np.full(SHAPE, 0.3, "float32")
    n, sigma = 4000, 0.5
    counts = smoothing.sample_counts(half_space, x, sigma, n, 2, batch_size=512, seed=2)
    p = stats.norm.cdf(0.3 / sigma)
    assert counts.sum() == n
    assert abs(counts[1] / n - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_the_radius_is_a_lower_bound_on_the_distance_to_a_linear_boundary():
    """For a half-space the smoothed classifier's exact radius is the distance |x_0|."""
    sigma = 0.5
    distance = sigma * stats.norm.ppf(0.9)  # p_A = 0.9.
    x = np.zeros(SHAPE, "float32")
    x[0, 0, 0] = distance
    label, radius = smoothing.certify(half_space, x, sigma, n0=50, n=4000, alpha=0.001,
                                      num_classes=2, batch_size=1000, seed=3)
    assert label == 1
    assert 0.85 * distance < radius <= distance


def test_the_same_seed_gives_the_same_certificates():
    x = np.full(SHAPE, 0.2, "float32")
    seen = []

    def recording(batch):  # The half-space's answers, remembering the noisy batches.
        seen.append(np.asarray(ops.convert_to_numpy(batch)))
        return half_space(batch)

    runs = []
    for s in (5, 5, 6):
        seen.clear()
        runs.append((smoothing.certify(recording, x, 0.5, 10, 300, 0.01, num_classes=2,
                                       batch_size=64, seed=s), np.concatenate(seen)))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    # Another seed, other noise (its radius may still coincide: counts are discrete).
    assert not np.allclose(runs[0][1], runs[2][1])


def test_certify_images_writes_cohens_rows_and_certified_accuracy_counts_them():
    images = np.zeros((3,) + SHAPE, "float32")
    labels = np.array([3, 1, 3])
    rows = list(smoothing.certify_images(constant(3), images, labels, [0, 1, 2], 0.5, 10, 100,
                                         0.001, batch_size=50))
    assert [(r.idx, r.label, r.predict, r.correct) for r in rows] == [(0, 3, 3, 1), (1, 1, 3, 0),
                                                                     (2, 3, 3, 1)]
    top = smoothing.max_radius(0.5, 100, 0.001)
    assert smoothing.certified_accuracy(rows, [0.0, top, top + 0.01]) == [2 / 3, 2 / 3, 0.0]
    assert rows[0].tsv().split("\t")[:5] == ["0", "3", "3", f"{top:.3f}", "1"]
    assert smoothing.TSV_HEADER.split("\t") == ["idx", "label", "predict", "radius", "correct",
                                                "time"]
    assert smoothing.radii() == [0.25 * k for k in range(11)]


@pytest.mark.parametrize("kwargs,match", [
    (dict(n0=0), "n0 must be an integer >= 1"),
    (dict(n=0), "n must be an integer >= 1"),
    (dict(alpha=0.0), r"alpha must lie in \(0, 1\)"),
    (dict(alpha=1.0), r"alpha must lie in \(0, 1\)"),
    (dict(sigma=0.0), "sigma must be finite and > 0"),
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
])
def test_bad_arguments_are_named(kwargs, match):
    arguments = dict(sigma=0.5, n0=5, n=10, alpha=0.01, batch_size=4, **{})
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        smoothing.certify(constant(0), np.zeros(SHAPE, "float32"), **arguments)


@pytest.mark.parametrize("classifier", [
    lambda images: ops.zeros((ops.shape(images)[0],)),  # One score per image.
    lambda images: ops.zeros((ops.shape(images)[0], 3)),  # Three classes, not ten.
])
def test_a_classifier_of_the_wrong_shape_is_named(classifier):
    with pytest.raises(ValueError, match=r"logits of shape \(batch, num_classes\) = \(4, 10\)"):
        smoothing.certify(classifier, np.zeros(SHAPE, "float32"), 0.5, 5, 10, 0.01, batch_size=4)


def test_paired_gap_against_scipy_on_known_certificates():
    """Four images: A certifies 0, 1, 2 at r = 0.5, B certifies 2 and 3 (3 is a wrong label)."""
    def cert(idx, radius, correct=1):
        return smoothing.Certificate(idx, 0, 0, radius, correct, 0.0)

    a = [cert(0, 0.6), cert(1, 0.5), cert(2, 1.0), cert(3, 0.1)]
    b = [cert(2, 0.7), cert(3, 0.9, correct=0), cert(0, 0.4), cert(1, -1.0)]
    gap = smoothing.paired_gap(a, b, 0.5)
    differences = np.array([1, 1, 0, 0])  # Images 0..3: A - B.
    assert gap["gap"] == pytest.approx(0.5)
    assert gap["standard_error"] == pytest.approx(stats.sem(differences))
    assert (gap["only_a"], gap["only_b"], gap["images"]) == (2, 0, 4)
    with pytest.raises(ValueError, match="same images"):
        smoothing.paired_gap(a, b[:3], 0.5)
