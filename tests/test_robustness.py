"""Robustness curves: the noise they apply, and what they measure."""

import keras
import numpy as np
import pytest

from conftest import SMALL, to_numpy
from keras_svae import DEEN, networks, seeding, sigma_vae
from keras_svae.experiments import robustness

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


SMALL_28 = dict(SMALL, data_shape=(28, 28, 1))


def _posterior_fixed_to(vae, mean, log_var):
    """Makes q(z | y) = N(mean, exp(log_var) I) whatever y (zero kernels, set biases)."""
    for layer, bias in ((vae.encoder.mean, mean), (vae.encoder.log_var, log_var)):
        layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
        layer.bias.assign(np.full(layer.bias.shape, bias, "float32"))


def test_vae_estimator_is_one_seeded_posterior_draw_per_call():
    y = robustness.corrupt("gaussian", _images(4), 0.5, seed=1)
    vae = sigma_vae(0.9, seed=0, **SMALL_28)
    first, again = robustness.estimator(vae, seed=3), robustness.estimator(vae, seed=3)
    a, b = to_numpy(first(y)), to_numpy(again(y))
    np.testing.assert_array_equal(a, b)  # The same seed gives the same draws.
    assert not np.allclose(to_numpy(first(y)), a)  # Each call draws afresh.
    assert not np.allclose(to_numpy(robustness.estimator(vae, seed=4)(y)), a)
    assert a.shape == y.shape and 0 < a.min() and a.max() < 1  # x_hat = sigmoid(logits).


def test_vae_estimator_decodes_the_posterior_mean_when_q_is_a_point_mass():
    y = robustness.corrupt("gaussian", _images(4), 0.5, seed=1)
    vae = sigma_vae(0.9, seed=0, **SMALL_28)
    _posterior_fixed_to(vae, mean=0.3, log_var=-40.0)  # std 2e-9: z = the mean.
    z = np.full((4, vae.latent_dim), 0.3, "float32")
    np.testing.assert_allclose(to_numpy(robustness.estimator(vae, seed=5)(y)),
                               to_numpy(vae.decode(z)), atol=1e-6)


def test_vae_estimator_draws_z_with_the_posterior_spread():
    """With q(z | y) = N(0, I) for every y, the estimates are distributed as prior samples."""
    vae = sigma_vae(0.9, seed=0, **SMALL_28)
    _posterior_fixed_to(vae, mean=0.0, log_var=0.0)
    y = np.zeros((2000, 28, 28, 1), "float32")
    estimates = to_numpy(robustness.estimator(vae, seed=6)(y))
    prior = to_numpy(vae.sample(2000, seed=7))
    # The mean image of 2000 draws, to 5 standard errors in every pixel; an estimator
    # that decoded the mean z (no spread) fails the spread check.
    standard_error = np.sqrt((estimates.var(0) + prior.var(0)) / 2000)
    assert np.all(np.abs(estimates.mean(0) - prior.mean(0)) < 5 * standard_error + 1e-6)
    np.testing.assert_allclose(estimates.std(0), prior.std(0), rtol=0.15, atol=1e-4)
    assert prior.std(0).mean() > 1e-3  # The decoder is not constant: the check has teeth.


def test_deen_estimator_is_y_minus_sigma_squared_times_the_energy_gradient():
    """x_hat(y) = y - sigma^2 grad f(y) (eq. 3), the gradient by central differences of f."""
    shape, sigma, h = (6, 6, 1), 0.7, 1e-2
    seeding.set_weights_seed(1)  # Its own weights, whatever ran before it.
    deen = DEEN(sigma, energy=networks.EnergyNetwork((4, 4, 4), units=8), data_shape=shape,
                seed=0)
    y = np.random.default_rng(2).normal(0.5, 0.5, (2,) + shape).astype("float32")
    steps = h * np.eye(np.prod(shape), dtype="float32").reshape((-1,) + shape)
    gradient = np.stack([
        (to_numpy(deen.energy(image + steps)) - to_numpy(deen.energy(image - steps))) / (2 * h)
        for image in y]).reshape(y.shape)
    expected = y - sigma**2 * gradient
    estimate = to_numpy(robustness.estimator(deen)(y))
    tolerance = 2e-4
    np.testing.assert_allclose(estimate, expected, atol=tolerance)
    # A correction worth checking: ten times the tolerance it is checked to (unseeded
    # weights, as before, made it as small as 1e-3 after some test orders).
    assert np.abs(estimate - y).max() > 10 * tolerance


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="noise must be one of"):
        robustness.corrupt("poisson", _images(2), 0.1, seed=0)
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        robustness.curves(MeanBrightness(), {}, _images(2), np.zeros(3, int), "gaussian")
