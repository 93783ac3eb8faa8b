"""q(z | x): analytic KL against Monte Carlo, and reparameterised moments."""

import keras
import numpy as np
from scipy import stats

from conftest import to_numpy
from keras_svae import posterior

MEAN = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]], dtype="float32")
LOG_VAR = np.array([[-1.0, 0.5, 0.0], [1.2, -2.0, 0.1]], dtype="float32")


def test_kl_matches_monte_carlo_within_standard_error():
    n = 200_000
    rng = np.random.default_rng(1)
    std = np.exp(0.5 * LOG_VAR.astype("float64"))
    z = MEAN + std * rng.standard_normal((n,) + MEAN.shape)
    # log q(z) - log p(z), from scipy's densities, averaged over draws of q.
    log_ratio = (stats.norm.logpdf(z, MEAN, std) - stats.norm.logpdf(z)).sum(axis=-1)
    estimate = log_ratio.mean(axis=0)
    stderr = log_ratio.std(axis=0) / np.sqrt(n)
    analytic = to_numpy(posterior.kl_divergence(MEAN, LOG_VAR))
    assert np.all(np.abs(analytic - estimate) < 4 * stderr), (analytic, estimate, stderr)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zeros = np.zeros((1, 5), "float32")
    np.testing.assert_allclose(to_numpy(posterior.kl_divergence(zeros, zeros)), [0.0], atol=1e-7)
    assert np.all(to_numpy(posterior.kl_divergence(MEAN, LOG_VAR)) > 0)


def test_reparameterised_samples_have_the_posterior_moments():
    n = 20_000
    mean = np.repeat(MEAN[:1], n, axis=0)
    log_var = np.repeat(LOG_VAR[:1], n, axis=0)
    z = to_numpy(posterior.sample(keras.ops.convert_to_tensor(mean),
                                  keras.ops.convert_to_tensor(log_var),
                                  keras.random.SeedGenerator(3)))
    std = np.exp(0.5 * LOG_VAR[0])
    # Sample mean within 4 standard errors; sample std within 4 of its own.
    assert np.all(np.abs(z.mean(0) - MEAN[0]) < 4 * std / np.sqrt(n))
    assert np.all(np.abs(z.std(0) - std) < 4 * std / np.sqrt(2 * n))
    # The draws are Gaussian: a KS test against N(mu, s^2) does not reject.
    for i in range(3):
        assert stats.kstest(z[:, i], "norm", args=(MEAN[0, i], std[i])).pvalue > 1e-3


def test_same_int_seed_same_draw_different_seed_different_draw():
    mean, log_var = (keras.ops.convert_to_tensor(a) for a in (MEAN, LOG_VAR))
    a = to_numpy(posterior.sample(mean, log_var, 5))
    b = to_numpy(posterior.sample(mean, log_var, 5))
    c = to_numpy(posterior.sample(mean, log_var, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
