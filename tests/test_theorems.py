"""Theorems 1 and 2: the sigma_2-VAE and the (sigma_1, beta)-VAE are equivalent.

For fixed weights and a fixed posterior draw, eq. 9 says
L(x | sigma_2) = (sigma_1 / sigma_2)^2 L(x | sigma_1, beta = sigma_2^2 / sigma_1^2) + C,
with C = 0 when the normalising constants are dropped (as in training), and
Theorem 2 the same for the Laplace model with beta = alpha_2 / alpha_1 and the
factor alpha_1 / alpha_2.
"""

import math

import numpy as np
import pytest

from conftest import SMALL, to_numpy
from keras_svae import SigmaVAE

X = np.random.default_rng(0).uniform(size=(6,) + SMALL["data_shape"]).astype("float32")


def twin_models(noise, scale_1, scale_2, beta):
    """The scale_2 model and the (scale_1, beta) model, with identical weights."""
    model_2 = SigmaVAE(noise=noise, scale=scale_2, **SMALL)
    model_1 = SigmaVAE(noise=noise, scale=scale_1, beta=beta, **SMALL)
    model_1.set_weights(model_2.get_weights())
    return model_1, model_2


def objective(model, seed=11):
    """Per-example L(x | scale, beta) = -(recon + beta KL), constants dropped."""
    terms = model.loss_terms(X, seed=seed)
    return -(to_numpy(terms["recon"]) + model.beta * to_numpy(terms["kl"]))


CASES = [  # noise, scale_1, scale_2, beta, factor C1 of eq. 8
    ("gaussian", 0.3, 0.9, (0.9 / 0.3) ** 2, (0.3 / 0.9) ** 2),
    ("gaussian", 0.8, 0.2, (0.2 / 0.8) ** 2, (0.8 / 0.2) ** 2),
    ("laplace", 0.3, 0.9, 0.9 / 0.3, 0.3 / 0.9),
    ("laplace", 0.7, 0.1, 0.1 / 0.7, 0.7 / 0.1),
]


@pytest.mark.parametrize("noise,scale_1,scale_2,beta,factor", CASES)
def test_objectives_are_proportional(noise, scale_1, scale_2, beta, factor):
    model_1, model_2 = twin_models(noise, scale_1, scale_2, beta)
    np.testing.assert_allclose(objective(model_2), factor * objective(model_1), rtol=1e-5)


@pytest.mark.parametrize("noise,scale_1,scale_2,beta,factor", CASES)
def test_with_constants_the_offset_is_the_normalisers(noise, scale_1, scale_2, beta, factor):
    """C of eq. 9 is what the likelihood constants contribute, independent of x."""
    model_1, model_2 = twin_models(noise, scale_1, scale_2, beta)
    d = math.prod(SMALL["data_shape"])

    def normaliser(s):  # -log of the constant factor of p(x | z).
        return 0.5 * d * math.log(2 * math.pi * s**2) if noise == "gaussian" else d * math.log(2 * s)

    full_1 = objective(model_1) - normaliser(scale_1)
    full_2 = objective(model_2) - normaliser(scale_2)
    offset = full_2 - factor * full_1
    np.testing.assert_allclose(offset, -normaliser(scale_2) + factor * normaliser(scale_1),
                               rtol=1e-5, atol=1e-3)
    # The model's own elbo(include_constant=True) agrees for beta = 1.
    np.testing.assert_allclose(to_numpy(model_2.elbo(X, seed=11, include_constant=True)), full_2,
                               rtol=1e-5)


@pytest.mark.parametrize("noise,scale,beta", [("gaussian", 0.5, 3.0), ("laplace", 0.4, 0.5),
                                              ("bernoulli", None, 2.0)])
def test_training_loss_is_the_negated_objective(noise, scale, beta):
    """compute_loss, what fit minimises, is -mean L(x | scale, beta) for the same draw."""
    model = SigmaVAE(noise=noise, scale=scale, beta=beta, **SMALL)
    state = to_numpy(model.seed_generator.state).copy()
    outputs = model(X)
    model.seed_generator.state.assign(state)  # Replay the same posterior draw.
    expected = -np.mean(objective(model, seed=model.seed_generator))
    np.testing.assert_allclose(to_numpy(model.compute_loss(X, y_pred=outputs)), expected, rtol=1e-5)
