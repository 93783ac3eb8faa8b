"""`evaluate`'s metrics against an independent NumPy/SciPy computation.

`SigmaVAE.evaluate` reports `recon` (-log p(x | z), constant dropped), `kl`,
`mse`, `elbo` (-(recon + kl), beta = 1) and `loss` (recon + beta * kl), each a
mean per example. Here they are recomputed in float64 from the model's own
encoder and decoder outputs, with the likelihoods taken from `scipy.stats`
(eqs. 5, 7, 10, 11 and the Bernoulli cross-entropy), not from
`keras_svae.imaginary_noise`, and the KL from its closed form.

`evaluate` draws z ~ q(z | x) inside the compiled step, so the reference cannot
know z. The first test makes q(z | x) a point mass: the encoder's log-variance
readout is set to kernel 0, bias -40, so z = mu + exp(-20) * eps differs from
mu by ~1e-8 (below float32 resolution for |mu| > ~0.3), and decode(mu) gives the
reference. The second test uses a spread posterior: the KL does not depend on
the draw, so it is still checked against the closed form, and the identities
elbo = -(recon + kl), loss = recon + beta * kl are checked from evaluate's own
numbers. beta != 1 everywhere, so loss and -elbo differ.
"""

import math

import keras
import numpy as np
import pytest
from scipy import special, stats

from conftest import SMALL, to_numpy
from keras_svae import SigmaVAE

SHAPE = SMALL["data_shape"]
D = math.prod(SHAPE)
N = 10  # With batch_size=4: batches of 4, 4 and 2.


def _images():
    x = np.random.default_rng(1).uniform(size=(N,) + SHAPE).astype("float32")
    # Grey levels in [0, 1], not binary. The last two images are darker, so that
    # their per-example terms differ from the rest and a mean of batch means
    # (4, 4, 2) is measurably different from the mean over examples.
    x[8:] *= 0.2
    return x


X = _images()

# (noise, scale, beta): scales with 2 sigma^2 != 1 and alpha != 1, so a dropped
# 1/(2 sigma^2) or 1/alpha shows; beta != 1 so the KL weight shows in `loss`.
CASES = [("gaussian", 0.3, 0.5), ("laplace", 0.2, 2.5), ("bernoulli", None, 0.25)]
IDS = [case[0] for case in CASES]

POINT_MASS_LOG_VAR = -40.0

# Reference vs. model: the model runs in float32 (compiled in evaluate, eager in
# encode/decoder here, so the two may round differently). Each per-example term
# is a sum over 64 pixels (or 4 latents) of float32 values (relative error up to
# ~64 * 6e-8 = 4e-6 in the worst case, ~5e-7 typically), then averaged in a
# float32 `Mean` metric; the point-mass draw moves z by <= ~1e-8. Measured on
# CPU with TF, JAX and torch: <= 1.6e-7. 1e-5 leaves a 60x margin (other
# kernels, e.g. oneDNN or a GPU, may sum in another order), while every break
# these tests are meant to catch (a dropped 1/(2 sigma^2) or 1/alpha, squared
# instead of absolute error, a dropped log-variance term, a flipped sign, a mean
# of batch means) moves a metric by 1e-2 or more.
RTOL = 1e-5
# evaluate's metrics against each other: the same float32 per-example values
# summed in separate float32 accumulators; measured <= 1.1e-7.
RTOL_IDENTITY = 1e-6


def _model(noise, scale, beta, log_var_kernel, log_var_bias):
    model = SigmaVAE(noise=noise, scale=scale, beta=beta, seed=0, **SMALL)
    readout = model.encoder.log_var
    readout.kernel.assign(np.asarray(log_var_kernel, "float32"))
    readout.bias.assign(np.asarray(log_var_bias, "float32"))
    # Freshly initialised, the decoder's logits are all near 0 (x_hat ~ 0.5, and
    # the Bernoulli NLL ~ d log 2 whatever x is). Pixel biases in [-3, 1] spread
    # x_hat over ~(0.05, 0.73), so every term depends on x and on the logits.
    bias = model.decoder.readout.bias
    bias.assign(np.random.default_rng(3).uniform(-3.0, 1.0, bias.shape).astype("float32"))
    model.compile(keras.optimizers.Adam(1e-3))
    return model


def _flat64(a):
    a = np.asarray(a, np.float64)
    return a.reshape(len(a), -1)


def reference_nll(noise, scale, x, logits):
    """-log p(x | z) per example in float64, without the normalising constant."""
    x, logits = _flat64(x), _flat64(logits)
    if noise == "bernoulli":
        # Cross-entropy x log p + (1 - x) log(1 - p), p = sigmoid(logits), for grey x.
        log_p, log_1mp = special.log_expit(logits), special.log_expit(-logits)
        return -np.sum(x * log_p + (1.0 - x) * log_1mp, axis=1)
    x_hat = special.expit(logits)
    if noise == "gaussian":
        log_density = stats.norm.logpdf(x, loc=x_hat, scale=scale)
        constant = 0.5 * D * np.log(2.0 * np.pi * scale**2)
    else:
        log_density = stats.laplace.logpdf(x, loc=x_hat, scale=scale)
        constant = D * np.log(2.0 * scale)
    return -np.sum(log_density, axis=1) - constant


def reference_kl(mean, log_var):
    """KL[N(mu, diag e^lv) || N(0, I)] per example, closed form, float64."""
    mean, log_var = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
    return 0.5 * np.sum(mean**2 + np.exp(log_var) - log_var - 1.0, axis=1)


def _evaluate(model, batch_size):
    results = model.evaluate(X, batch_size=batch_size, verbose=0, return_dict=True)
    assert set(results) == {"loss", "recon", "kl", "mse", "elbo"}
    return {k: float(v) for k, v in results.items()}


@pytest.mark.parametrize("batch_size", [16, 4], ids=["one_batch", "uneven_batches"])
@pytest.mark.parametrize("noise,scale,beta", CASES, ids=IDS)
def test_evaluate_matches_scipy_with_a_point_mass_posterior(noise, scale, beta, batch_size):
    latent = SMALL["latent_dim"]
    model = _model(noise, scale, beta, np.zeros((SMALL["encoder_units"], latent)),
                   np.full(latent, POINT_MASS_LOG_VAR))
    mean, log_var = model.encode(X)
    np.testing.assert_array_equal(to_numpy(log_var), POINT_MASS_LOG_VAR)
    # The premise: a draw from q(z | x) is mu to float32 precision.
    np.testing.assert_allclose(to_numpy(model(X)["z"]), to_numpy(mean), rtol=0, atol=1e-7)

    logits = to_numpy(model.decoder(mean))
    recon = reference_nll(noise, scale, X, logits)
    kl = reference_kl(to_numpy(mean), to_numpy(log_var))
    mse = np.sum((_flat64(X) - special.expit(_flat64(logits))) ** 2, axis=1)
    per_example = {"recon": recon, "kl": kl, "mse": mse, "elbo": -(recon + kl),
                   "loss": recon + beta * kl}
    expected = {k: v.mean() for k, v in per_example.items()}

    results = _evaluate(model, batch_size)
    for key, value in expected.items():
        assert results[key] == pytest.approx(value, rel=RTOL), key

    if batch_size == 4:
        # The check has teeth: the mean of the batches' means is far outside RTOL.
        for key in ("recon", "mse", "elbo", "loss"):
            chunks = np.split(per_example[key], [4, 8])
            mean_of_means = np.mean([c.mean() for c in chunks])
            assert abs(mean_of_means - expected[key]) > 100 * RTOL * abs(expected[key]), key


@pytest.mark.parametrize("noise,scale,beta", CASES, ids=IDS)
def test_evaluate_kl_and_identities_with_a_spread_posterior(noise, scale, beta):
    rng = np.random.default_rng(2)
    latent = SMALL["latent_dim"]
    kernel = 0.3 * rng.standard_normal((SMALL["encoder_units"], latent))
    model = _model(noise, scale, beta, kernel, rng.uniform(-2.0, 0.5, latent))
    mean, log_var = (to_numpy(t) for t in model.encode(X))
    # A genuinely random draw: posterior standard deviations between ~0.1 and ~3.
    assert -4.0 < log_var.min() and log_var.max() < 2.0 and np.ptp(log_var) > 1.0

    results = _evaluate(model, batch_size=4)
    # The KL is closed form in (mu, log_var): it does not depend on the draw.
    assert results["kl"] == pytest.approx(reference_kl(mean, log_var).mean(), rel=RTOL)
    assert results["elbo"] == pytest.approx(-(results["recon"] + results["kl"]), rel=RTOL_IDENTITY)
    assert results["loss"] == pytest.approx(results["recon"] + beta * results["kl"],
                                            rel=RTOL_IDENTITY)
    # The check has teeth: ignoring beta would move the loss by (1 - beta) * kl,
    # far outside the tolerance.
    assert abs((1.0 - beta) * results["kl"]) > 1e3 * RTOL_IDENTITY * abs(results["loss"])
