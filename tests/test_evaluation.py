"""Evaluation: log p(x) against closed forms and quadrature, active units, the KL spectrum,
latent paths. Each reference is independent of the code: scipy's multivariate normal,
quadrature over a 1-D latent, variances computed from the known encoder."""

import math

import keras
import numpy as np
import pytest
from keras import layers
from scipy import special, stats

from conftest import SMALL, to_numpy
from keras_svae import SigmaVAE, evaluation

D, DZ, SIGMA = 6, 3, 0.5


def dense(inputs, kernel, bias):
    layer = layers.Dense(kernel.shape[1])
    out = layer(inputs)
    layer.set_weights([kernel.astype("float32"), bias.astype("float32")])
    return out


def linear_gaussian(rng, mean_shift=0.0, log_var_shift=0.0):
    """x_hat = W z + b (identity readout), with W's columns orthogonal, so that the exact
    posterior is diagonal: the encoder returns it (shifted, for an inexact proposal)."""
    q, _ = np.linalg.qr(rng.normal(size=(D, DZ)))
    w, b = q * np.array([1.5, 0.8, 0.4]), rng.normal(size=D) * 0.3
    posterior_var = 1.0 / (1.0 + np.sum(w**2, axis=0) / SIGMA**2)  # diag((I + W'W/s^2)^-1)
    a = posterior_var[:, None] * w.T / SIGMA**2                    # E[z | x] = A (x - b)
    x = keras.Input((D,))
    encoder = keras.Model(x, [
        dense(x, a.T, -b @ a.T + mean_shift),
        dense(x, np.zeros((D, DZ)), np.log(posterior_var) + log_var_shift)])
    z = keras.Input((DZ,))
    decoder = keras.Model(z, dense(z, w.T, b))
    model = SigmaVAE(scale=SIGMA, encoder=encoder, decoder=decoder, readout="identity")
    exact = stats.multivariate_normal(b, w @ w.T + SIGMA**2 * np.eye(D))
    return model, exact, (w, b, a, posterior_var)


def analytic_elbo(x, w, b, mean, var):
    """E_q log N(x; W z + b, s^2 I) - KL[q || N(0, I)] for q = N(mean, diag(var))."""
    residual = np.sum((x - mean @ w.T - b) ** 2, axis=1) + np.sum(var * np.sum(w**2, axis=0))
    expected_log_px = -0.5 * D * math.log(2 * math.pi * SIGMA**2) - residual / (2 * SIGMA**2)
    kl = 0.5 * np.sum(mean**2 + var - np.log(var) - 1.0, axis=1)
    return expected_log_px - kl


def test_with_the_exact_posterior_every_k_gives_log_p_exactly(rng):
    """q(z|x) = p(z|x) makes every importance weight p(x): no Monte Carlo error at all, so
    each constant and the log k of the average are checked to float32 rounding."""
    model, exact, _ = linear_gaussian(rng)
    x = exact.rvs(size=8, random_state=rng).astype("float32")
    for k in (1, 7, 300):
        np.testing.assert_allclose(model.log_likelihood(x, k=k, seed=1), exact.logpdf(x),
                                   atol=2e-3)
    # Split into several decoder calls per example (k = 7 in 3 + 3 + 1; k = 300 in 64s):
    # the partial sums must combine to the same exact value.
    for k, draws_per_call in ((7, 3), (300, 64)):
        np.testing.assert_allclose(
            model.log_likelihood(x, k=k, seed=1, draws_per_call=draws_per_call),
            exact.logpdf(x), atol=2e-3)


def test_an_estimate_is_reproduced_by_its_seed(rng):
    model, exact, _ = linear_gaussian(rng, mean_shift=0.4, log_var_shift=0.7)
    x = exact.rvs(size=6, random_state=rng).astype("float32")
    first, again = (model.log_likelihood(x, k=16, seed=5) for _ in range(2))
    np.testing.assert_array_equal(first, again)
    assert np.all(first != model.log_likelihood(x, k=16, seed=6))  # Another seed, other draws.


def test_with_an_inexact_proposal_the_bound_is_the_elbo_then_rises_to_log_p(rng):
    model, exact, (w, b, a, var) = linear_gaussian(rng, mean_shift=0.4, log_var_shift=0.7)
    x = exact.rvs(size=200, random_state=rng).astype("float32")
    truth = exact.logpdf(x)
    elbo = analytic_elbo(x, w, b, (x - b) @ a.T + 0.4, var * math.exp(0.7))
    # k = 1: one draw of the ELBO per example; its mean over many draws is the ELBO.
    draws = np.stack([model.log_likelihood(x[:20], k=1, seed=s) for s in range(40)])
    standard_error = draws.std(axis=0, ddof=1) / math.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - elbo[:20]) < 4 * standard_error + 1e-3)
    # The gap to log p(x), paired per example (the examples' own log p cancels): the ELBO's,
    # then the bound's at k = 8, 64 and 2,000, each smaller by far more than its noise.
    gaps = [np.mean(truth - elbo)]
    for k in (8, 64, 2000):
        gap = truth - model.log_likelihood(x, k=k, seed=k)
        gaps.append(gap.mean())
        noise = gap.std(ddof=1) / math.sqrt(len(gap))
        assert gaps[-1] < gaps[-2] - 4 * noise, (k, gaps, noise)
    assert gaps[0] > 0.5  # A real gap to close ...
    assert abs(gaps[-1]) < 0.02 * gaps[0]  # ... and 98% of it closed at k = 2,000.


def one_latent_model(noise, scale, rng):
    """A 1-D latent, a fixed proposal N(0.2, 0.8), x_hat = sigmoid(w z + c)."""
    w, c = rng.normal(size=4) * 2.0, rng.normal(size=4)
    x = keras.Input((4,))
    encoder = keras.Model(x, [dense(x, np.zeros((4, 1)), np.array([0.2])),
                              dense(x, np.zeros((4, 1)), np.array([math.log(0.8)]))])
    z = keras.Input((1,))
    decoder = keras.Model(z, dense(z, w[None], c))
    return SigmaVAE(noise=noise, scale=scale, encoder=encoder, decoder=decoder), w, c


@pytest.mark.parametrize("noise, scale", [("bernoulli", None), ("laplace", 0.3),
                                          ("gaussian", 0.3)])
def test_one_latent_log_p_matches_quadrature(noise, scale, rng):
    model, w, c = one_latent_model(noise, scale, rng)
    x = (rng.uniform(size=(5, 4)) < 0.5).astype("float32")  # Binary: Bernoulli's own data.
    grid = np.linspace(-12.0, 12.0, 48001)
    x_hat = special.expit(grid[:, None] * w + c)                      # (grid, 4)
    if noise == "bernoulli":
        log_px = np.sum(x[:, None] * np.log(x_hat) + (1 - x[:, None]) * np.log1p(-x_hat), -1)
    else:  # The sigmoid readout's x_hat, under the Laplace or the Gaussian.
        density = stats.laplace if noise == "laplace" else stats.norm
        log_px = np.sum(density.logpdf(x[:, None], loc=x_hat, scale=scale), -1)
    joint = np.exp(log_px + stats.norm.logpdf(grid))                  # p(x, z): (5, grid)
    evidence = np.trapezoid(joint, grid, axis=1)
    # The Monte Carlo error of log (mean of k weights w = p(x, z) / q(z)), by the delta
    # method: sqrt(Var_q(w) / k) / p(x), with E_q[w^2] = int p(x, z)^2 / q(z) dz.
    proposal = stats.norm.pdf(grid, loc=0.2, scale=math.sqrt(0.8))
    second_moment = np.trapezoid(joint**2 / proposal, grid, axis=1)
    k = 5000
    error = np.sqrt((second_moment / evidence**2 - 1.0) / k)
    assert np.all(error < 0.05)  # A test that k = 5000 can pass, and a wrong constant cannot.
    estimate = model.log_likelihood(x, k=k, seed=3)
    assert np.all(np.abs(estimate - np.log(evidence)) < 4 * error + 1e-3), (estimate, error)


def test_bits_per_dim():
    assert evaluation.bits_per_dim([-784 * math.log(2.0)], (28, 28, 1))[0] == pytest.approx(1.0)
    # Every axis of the shape counts, channels too: d = 48.
    assert evaluation.bits_per_dim([-96 * math.log(2.0)], (4, 4, 3))[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="NaN"):
        evaluation.bits_per_dim([np.nan], (4, 4, 3))


def known_encoder_model():
    """z_mean = (x0, 0.1 x1, 0.3, 0.5 x2): Cov_x of the means is (1/12, 1/1200, 0, 1/48)
    for uniform x, so units 0 and 3 are active at 0.01, units 1 and 2 are not."""
    x = keras.Input((3,))
    kernel = np.zeros((3, 4))
    kernel[0, 0], kernel[1, 1], kernel[2, 3] = 1.0, 0.1, 0.5
    encoder = keras.Model(x, [dense(x, kernel, np.array([0.0, 0.0, 0.3, 0.0])),
                              dense(x, np.zeros((3, 4)), np.array([0.0, -1.0, 0.5, -2.0]))])
    decoder = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    return SigmaVAE(scale=0.5, encoder=encoder, decoder=decoder), kernel


def test_active_units_and_activity_from_a_known_encoder(rng):
    model, kernel = known_encoder_model()
    x = rng.uniform(size=(4000, 3)).astype("float32")
    means = x.astype(np.float64) @ kernel + np.array([0.0, 0.0, 0.3, 0.0])
    np.testing.assert_allclose(evaluation.latent_activity(model, x), means.var(axis=0, ddof=1),
                               rtol=1e-4, atol=1e-10)
    assert model.active_units(x) == 2
    # By activity 1/12, 1/48, 1/1200, 0: units 0, 3, 1, then 2.
    assert evaluation.most_active(evaluation.latent_activity(model, x), 3) == [0, 3, 1]
    assert evaluation.most_active([0.5, 0.2, 0.5, 0.2], 3) == [0, 2, 1]  # Ties: lower first.
    with pytest.raises(ValueError, match="count must be an integer >= 1"):
        evaluation.most_active([0.5, 0.2], -1)
    assert model.active_units(x, threshold=1e-4) == 3  # Unit 1 (1/1200) counts now.
    with pytest.raises(ValueError, match="at least 2"):
        model.active_units(x[:1])


def test_the_kl_spectrum_sums_to_the_models_kl(rng):
    model, _ = known_encoder_model()
    x = rng.uniform(size=(64, 3)).astype("float32")
    spectrum = model.kl_per_dimension(x)
    assert spectrum.shape == (4,) and np.all(spectrum >= 0)
    total = float(np.mean(to_numpy(model.loss_terms(x)["kl"])))
    assert spectrum.sum() == pytest.approx(total, rel=1e-5)
    # Unit 2: mean 0.3, log var 0.5 for every x, so its KL is the same closed form for all.
    assert spectrum[2] == pytest.approx(0.5 * (0.09 + math.exp(0.5) - 0.5 - 1.0), rel=1e-5)
    # latent_statistics: the activity and the spectrum from one pass of the encoder.
    activity, same = evaluation.latent_statistics(model, x)
    assert same.sum() == pytest.approx(total, rel=1e-5)
    assert same[2] == pytest.approx(spectrum[2], rel=1e-6)
    assert activity[2] == pytest.approx(0.0, abs=1e-10) and activity[0] > 0.01


def test_interpolation_ends_decode_the_posterior_means(rng):
    model = SigmaVAE(scale=0.5, seed=0, **SMALL)
    a, b = rng.uniform(size=(2,) + SMALL["data_shape"]).astype("float32")
    path = evaluation.interpolate(model, a, b, steps=5)
    assert path.shape == (5,) + SMALL["data_shape"]
    means = to_numpy(model.encode(np.stack([a, b]))[0])
    ends = to_numpy(model.decode(means))
    np.testing.assert_allclose(path[0], ends[0], atol=1e-6)
    np.testing.assert_allclose(path[-1], ends[1], atol=1e-6)
    np.testing.assert_allclose(path[2], to_numpy(model.decode(means.mean(0, keepdims=True)))[0],
                               atol=1e-6)


def test_a_traversal_moves_one_unit_at_a_time(rng):
    model = SigmaVAE(scale=0.5, seed=0, **SMALL)
    x = rng.uniform(size=SMALL["data_shape"]).astype("float32")
    grid = evaluation.traverse(model, x, units=[1, 3], values=[-2.0, 0.0, 2.0])
    assert grid.shape == (2, 3) + SMALL["data_shape"]
    z = to_numpy(model.encode(x[None])[0]).repeat(3, 0)
    z[:, 3] = [-2.0, 0.0, 2.0]
    np.testing.assert_allclose(grid[1], to_numpy(model.decode(z)), atol=1e-6)
    first = to_numpy(model.encode(x[None])[0])  # Unit 1 at -2, the others at the mean.
    first[0, 1] = -2.0
    np.testing.assert_allclose(grid[0, 0], to_numpy(model.decode(first))[0], atol=1e-6)
    for units in ([SMALL["latent_dim"]], [-1]):
        with pytest.raises(ValueError, match="units must lie in"):
            evaluation.traverse(model, x, units=units)
    with pytest.raises(ValueError, match="finite"):
        evaluation.traverse(model, x, units=[0], values=[0.0, np.nan])


@pytest.mark.parametrize("bad, match", [
    (dict(k=0), "k must be an integer >= 1"),
    (dict(k=2.5), "k must be an integer >= 1"),
    (dict(x=np.zeros((2, 5), "float32")), "shape"),
    (dict(x=np.full((2, D), np.nan, "float32")), "NaN"),
    (dict(x=np.zeros((0, D), "float32")), "no examples"),
    (dict(k=float("nan")), "k must be an integer >= 1"),
    (dict(k=float("inf")), "k must be an integer >= 1"),
    (dict(k="a"), "k must be an integer >= 1"),
    (dict(k=True), "k must be an integer >= 1"),
    (dict(draws_per_call=0), "draws_per_call must be an integer >= 1"),
])
def test_bad_input_is_named(bad, match, rng):
    model, _, _ = linear_gaussian(rng)
    arguments = {**dict(x=np.zeros((2, D), "float32"), k=4), **bad}
    with pytest.raises(ValueError, match=match):
        model.log_likelihood(**arguments)


def test_the_vanilla_vae_takes_data_in_the_unit_interval(rng):
    model, _, _ = one_latent_model("bernoulli", None, rng)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.log_likelihood(np.full((2, 4), 1.5, "float32"), k=2)
