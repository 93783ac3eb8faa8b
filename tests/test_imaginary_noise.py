"""The imaginary noise models' log-likelihoods against scipy.stats (eqs. 5, 10)."""

import numpy as np
import pytest
from scipy import special, stats

from conftest import to_numpy
from keras_svae import imaginary_noise

X = np.random.default_rng(0).uniform(0.0, 1.0, size=(5, 4, 3, 2)).astype("float32")
LOGITS = np.random.default_rng(1).normal(0.0, 2.0, size=X.shape).astype("float32")
X_HAT = special.expit(LOGITS.astype("float64"))


def per_example(logpdf):
    return logpdf.reshape(len(logpdf), -1).sum(axis=1)


@pytest.mark.parametrize("sigma", [0.1, 0.5, 0.9, 2.0])
def test_gaussian_matches_scipy(sigma):
    model = imaginary_noise.Gaussian(sigma)
    nll = to_numpy(model.negative_log_likelihood(X, LOGITS, include_constant=True))
    expected = -per_example(stats.norm.logpdf(X, loc=X_HAT, scale=sigma))
    np.testing.assert_allclose(nll, expected, rtol=1e-5)


@pytest.mark.parametrize("alpha", [0.1, 0.4, 0.9])
def test_laplace_matches_scipy(alpha):
    model = imaginary_noise.Laplace(alpha)
    nll = to_numpy(model.negative_log_likelihood(X, LOGITS, include_constant=True))
    expected = -per_example(stats.laplace.logpdf(X, loc=X_HAT, scale=alpha))
    np.testing.assert_allclose(nll, expected, rtol=1e-5)


def test_bernoulli_matches_scipy_on_binary_pixels():
    binary = (X > 0.5).astype("float32")
    nll = to_numpy(imaginary_noise.Bernoulli().negative_log_likelihood(binary, LOGITS))
    expected = -per_example(stats.bernoulli.logpmf(binary, X_HAT))
    np.testing.assert_allclose(nll, expected, rtol=1e-5)


def test_bernoulli_is_cross_entropy_on_grey_pixels():
    nll = to_numpy(imaginary_noise.Bernoulli().negative_log_likelihood(X, LOGITS))
    expected = -per_example(X * np.log(X_HAT) + (1 - X) * np.log1p(-X_HAT))
    np.testing.assert_allclose(nll, expected, rtol=1e-5)


@pytest.mark.parametrize("model,constant", [
    (imaginary_noise.Gaussian(0.3), 0.5 * np.log(2 * np.pi * 0.3**2)),
    (imaginary_noise.Laplace(0.3), np.log(2 * 0.3)),
])
def test_constant_is_what_the_paper_drops(model, constant):
    """Eq. 7 drops d/2 log 2 pi sigma^2; eq. 11 drops d log 2 alpha."""
    with_c = to_numpy(model.negative_log_likelihood(X, LOGITS, include_constant=True))
    without = to_numpy(model.negative_log_likelihood(X, LOGITS))
    np.testing.assert_allclose(with_c - without, X[0].size * constant, rtol=1e-5)


@pytest.mark.parametrize("noise,name", [("gaussian", "sigma"), ("laplace", "alpha")])
@pytest.mark.parametrize("bad", [0.0, -0.5, float("nan"), float("inf"), None, "wide"])
def test_bad_scale_names_parameter_and_value(noise, name, bad):
    with pytest.raises(ValueError, match=name) as info:
        imaginary_noise.get(noise, bad)
    assert str(bad) in str(info.value) or repr(bad) in str(info.value)


def test_unknown_noise_and_bernoulli_scale_rejected():
    with pytest.raises(ValueError, match="noise must be one of"):
        imaginary_noise.get("cauchy", 1.0)
    with pytest.raises(ValueError, match="takes no scale"):
        imaginary_noise.get("bernoulli", 0.5)
