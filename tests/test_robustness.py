"""Robustness curves: the noise they apply, and what they measure."""

import keras
import numpy as np
import pytest

from conftest import SMALL, to_numpy
from keras_svae import DEEN, robustness, sigma_vae

PIXELS = 28 * 28


class MeanBrightness(keras.Model):
    """A fixed "classifier": class 1 when the mean pixel exceeds 0.5, else 0."""

    def call(self, x):
        mean = keras.ops.mean(x, axis=(1, 2, 3))
        return keras.ops.stack([0.5 - mean, mean - 0.5], axis=-1)


def _images(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, 28, 28, 1)).astype("float32")


@pytest.mark.parametrize("noise,level,expected", [
    ("gaussian", 0.7, lambda x: 0.7**2 * PIXELS),  # E||eps||^2 = d sigma^2
    ("laplace", 0.3, lambda x: 2 * 0.3**2 * PIXELS),  # Var Laplace(alpha) = 2 alpha^2
    # A replaced pixel becomes 0 or 1 with equal odds: E = p sum (x^2 + (1-x)^2) / 2.
    ("salt_and_pepper", 0.4, lambda x: 0.4 * np.mean(np.sum(x**2 + (1 - x) ** 2, (1, 2, 3))) / 2),
])
def test_raw_noisy_images_have_the_expected_squared_error(noise, level, expected):
    x = _images()
    rows = robustness.curves(MeanBrightness(), {"raw": robustness.identity}, x,
                             np.zeros(len(x), int), noise, levels=[level], batch_size=128)
    (row,) = rows
    assert row["estimator"] == "raw" and row["level"] == level
    # 400 images x 784 pixels: the mean is within 2% of its expectation.
    assert row["mse"] == pytest.approx(expected(x), rel=0.02)


def test_accuracy_counts_correct_labels_of_each_estimate():
    x = np.concatenate([np.zeros((30, 28, 28, 1)), np.ones((70, 28, 28, 1))]).astype("float32")
    labels = np.array([0] * 30 + [1] * 70)
    estimators = {"raw": robustness.identity, "all dark": lambda y: 0.0 * y}
    rows = robustness.curves(MeanBrightness(), estimators, x, labels, "gaussian",
                             levels=[0.0, 0.1], batch_size=32)
    by = {(r["estimator"], r["level"]): r for r in rows}
    assert by["raw", 0.0]["accuracy"] == 1.0 and by["raw", 0.0]["mse"] == 0.0
    assert by["all dark", 0.0]["accuracy"] == pytest.approx(0.3)
    assert by["all dark", 0.1]["mse"] == pytest.approx(70 * PIXELS / 100)
    assert [r["level"] for r in rows] == [0.0, 0.0, 0.1, 0.1]


def test_every_estimator_sees_the_same_noisy_images():
    seen = []
    record = lambda y: seen.append(to_numpy(y).copy()) or y  # noqa: E731
    robustness.curves(MeanBrightness(), {"a": record, "b": record}, _images(8),
                      np.zeros(8, int), "laplace", levels=[0.5])
    np.testing.assert_array_equal(seen[0], seen[1])


def test_estimators_are_the_models_own_inference():
    y = robustness.corrupt("gaussian", _images(4), 0.5, seed=1)
    vae = sigma_vae(0.9, seed=0, **dict(SMALL, image_shape=(28, 28, 1)))
    np.testing.assert_allclose(
        to_numpy(robustness.estimator(vae, seed=3)(y)),
        to_numpy(vae.reconstruct(y, seed=keras.random.SeedGenerator(3))), atol=1e-6)
    deen = DEEN(0.9, seed=0)
    np.testing.assert_allclose(to_numpy(robustness.estimator(deen)(y)),
                               to_numpy(deen.denoise(y)), atol=1e-6)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="noise must be one of"):
        robustness.corrupt("poisson", _images(2), 0.1, seed=0)
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        robustness.curves(MeanBrightness(), {}, _images(2), np.zeros(3, int), "gaussian")
