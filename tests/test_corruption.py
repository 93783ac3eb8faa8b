"""The real noise used on test images: Gaussian, Laplace, salt-and-pepper."""

import keras
import numpy as np
import pytest
from scipy import stats

from conftest import to_numpy
from keras_svae import corruption

CLEAN = np.full((50, 20, 20, 1), 0.5, dtype="float32")
N = CLEAN.size


@pytest.mark.parametrize("sigma", [0.2, 0.9])
def test_gaussian_noise_has_std_sigma(sigma):
    noise = to_numpy(corruption.gaussian(CLEAN, sigma, seed=1)) - CLEAN
    assert abs(noise.mean()) < 4 * sigma / np.sqrt(N)
    assert abs(noise.std() - sigma) < 4 * sigma / np.sqrt(2 * N)
    assert stats.kstest(noise.ravel()[:5000], "norm", args=(0, sigma)).pvalue > 1e-3


@pytest.mark.parametrize("alpha", [0.1, 0.4])
def test_laplace_noise_has_mean_absolute_value_alpha(alpha):
    noise = to_numpy(corruption.laplace(CLEAN, alpha, seed=2)) - CLEAN
    # |eps| ~ Exponential(alpha): mean alpha, std alpha.
    assert abs(np.abs(noise).mean() - alpha) < 4 * alpha / np.sqrt(N)
    assert stats.kstest(noise.ravel()[:5000], "laplace", args=(0, alpha)).pvalue > 1e-3


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_salt_and_pepper_replaces_a_fraction_p(p):
    noisy = to_numpy(corruption.salt_and_pepper(CLEAN, p, seed=3))
    replaced = noisy != 0.5
    assert abs(replaced.mean() - p) < 4 * np.sqrt(p * (1 - p) / N)
    assert set(np.unique(noisy[replaced]).tolist()) == {0.0, 1.0}
    assert abs(noisy[replaced].mean() - 0.5) < 0.05  # Salt and pepper equally often.


def test_seeds_make_noise_repeatable():
    a = to_numpy(corruption.gaussian(CLEAN, 0.5, seed=7))
    np.testing.assert_array_equal(a, to_numpy(corruption.gaussian(CLEAN, 0.5, seed=7)))
    generator = keras.random.SeedGenerator(7)
    b, c = (to_numpy(corruption.laplace(CLEAN, 0.3, seed=generator)) for _ in range(2))
    assert not np.allclose(b, c)


def test_zero_noise_is_the_identity_and_bad_levels_are_rejected():
    np.testing.assert_array_equal(to_numpy(corruption.gaussian(CLEAN, 0.0, seed=1)), CLEAN)
    with pytest.raises(ValueError, match="sigma"):
        corruption.gaussian(CLEAN, -0.1)
    with pytest.raises(ValueError, match="alpha"):
        corruption.laplace(CLEAN, float("nan"))
    with pytest.raises(ValueError, match="p must be a probability"):
        corruption.salt_and_pepper(CLEAN, 1.5)
