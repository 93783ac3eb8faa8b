"""Imaginary noise models: the decoder likelihoods p(x | z) of the paper.

Definition 1 of the paper: the decoder is written for the *noisy* variable
Y = X + noise, p(x | z) = M(x | x_hat(z), Sigma), although the model only ever
sees clean x. Three kernels are provided:

* `Gaussian(sigma)`: eq. 5, p(x | z) = N(x | x_hat(z), sigma^2 I): the sigma-VAE.
* `Laplace(alpha)`: eq. 10, a factorised Laplace with scale alpha: the alpha-VAE.
* `Bernoulli()`: the vanilla VAE's decoder, parametrised by logits.

Each model returns the per-example negative log-likelihood summed over every
pixel. The paper drops the normalising constants (d/2 log 2 pi sigma^2 for the
Gaussian, d log 2 alpha for the Laplace) because they do not change the
optimum; `include_constant=True` adds them back, for values in nats.
"""

import math

from keras import backend
from keras import ops

from keras_svae import reductions
from keras_svae import validation

NOISE_MODELS = ("gaussian", "laplace", "bernoulli")


def _num_pixels(x):
    return math.prod(x.shape[1:])


def _as_tensors(x, logits):
    """Both arguments as tensors of the logits' float dtype (NumPy accepted)."""
    logits = ops.convert_to_tensor(logits)
    if not backend.is_float_dtype(logits.dtype):
        logits = ops.cast(logits, "float32")
    return ops.cast(ops.convert_to_tensor(x), logits.dtype), logits


class Gaussian:
    """Imaginary Gaussian noise model N(x | x_hat, sigma^2 I) (eq. 5).

    Args:
        sigma: float, the imaginary noise standard deviation; finite and > 0.
    """

    name = "gaussian"

    def __init__(self, sigma):
        self.scale = validation.validate_scale("sigma", sigma)

    def negative_log_likelihood(self, x, logits, include_constant=False):
        """-log p(x | z) per example; the first term of eq. 7, negated.

        Args:
            x: clean images, shape (batch, ...).
            logits: decoder logits; x_hat = sigmoid(logits).
            include_constant: add d/2 log(2 pi sigma^2).
        """
        x, logits = _as_tensors(x, logits)
        x_hat = ops.sigmoid(logits)
        nll = reductions.sum_per_example(ops.square(x - x_hat)) / (2.0 * self.scale**2)
        if include_constant:
            nll = nll + 0.5 * _num_pixels(x) * math.log(2.0 * math.pi * self.scale**2)
        return nll


class Laplace:
    """Imaginary factorised Laplace noise model with scale alpha (eq. 10).

    Args:
        alpha: float, the Laplace scale; finite and > 0.
    """

    name = "laplace"

    def __init__(self, alpha):
        self.scale = validation.validate_scale("alpha", alpha)

    def negative_log_likelihood(self, x, logits, include_constant=False):
        """-log p(x | z) per example; the first term of eq. 11, negated.

        Args:
            x: clean images, shape (batch, ...).
            logits: decoder logits; x_hat = sigmoid(logits).
            include_constant: add d log(2 alpha).
        """
        x, logits = _as_tensors(x, logits)
        x_hat = ops.sigmoid(logits)
        nll = reductions.sum_per_example(ops.abs(x - x_hat)) / self.scale
        if include_constant:
            nll = nll + _num_pixels(x) * math.log(2.0 * self.scale)
        return nll


class Bernoulli:
    """The vanilla VAE's Bernoulli decoder, evaluated from logits for stability.

    -log p(x | z) = sum_i softplus(l_i) - x_i l_i, the binary cross-entropy,
    which is also defined for grey levels x_i in [0, 1]. It has no separate
    normalising constant, so `include_constant` changes nothing.
    """

    name = "bernoulli"
    scale = None

    def negative_log_likelihood(self, x, logits, include_constant=False):
        del include_constant  # The Bernoulli likelihood is already normalised.
        x, logits = _as_tensors(x, logits)
        return reductions.sum_per_example(ops.softplus(logits) - x * logits)


def get(noise, scale=None):
    """Returns the imaginary noise model named `noise` with its `scale`.

    Args:
        noise: one of "gaussian", "laplace", "bernoulli".
        scale: sigma for "gaussian", alpha for "laplace", unused (None) for
            "bernoulli".
    """
    if noise == "gaussian":
        return Gaussian(scale)
    if noise == "laplace":
        return Laplace(scale)
    if noise == "bernoulli":
        if scale is not None:
            raise ValueError(f"The bernoulli noise model takes no scale, got scale={scale}.")
        return Bernoulli()
    raise ValueError(f"noise must be one of {NOISE_MODELS}, got {noise!r}.")

