"""Imaginary noise models: the decoder likelihoods p(x | z) of the paper.

Definition 1 of the paper: the decoder is written for the *noisy* variable
Y = X + noise, p(x | z) = M(x | x_hat(z), Sigma), although the model only ever
sees clean x. Three kernels are provided:

* `Gaussian(sigma)`: eq. 5, p(x | z) = N(x | x_hat(z), sigma^2 I): the sigma-VAE.
* `Laplace(alpha)`: eq. 10, a factorised Laplace with scale alpha: the alpha-VAE.
* `Bernoulli()`: the vanilla VAE's decoder, parametrised by logits.

Each model returns the per-example negative log-likelihood summed over every
pixel, from the decoder's output: its logits l under the logistic readout
x_hat = sigmoid(l) (the paper's, for data in [0, 1]), or x_hat itself under the
identity readout (real-valued data, e.g. standardised features; Gaussian and
Laplace only, since the Bernoulli model is defined on [0, 1]). The paper drops the normalising constants (d/2 log 2 pi sigma^2 for the
Gaussian, d log 2 alpha for the Laplace) because they do not change the
optimum; `include_constant=True` adds them back, for values in nats.
"""

import math

from keras import backend
from keras import ops

from keras_svae import reductions
from keras_svae import validation

NOISE_MODELS = ("gaussian", "laplace", "bernoulli")
READOUTS = ("sigmoid", "identity")


def _num_pixels(x):
    return math.prod(x.shape[1:])


def _as_tensors(x, logits):
    """Both arguments as tensors of the logits' float dtype (NumPy accepted)."""
    logits = ops.convert_to_tensor(logits)
    if not backend.is_float_dtype(logits.dtype):
        logits = ops.cast(logits, "float32")
    return ops.cast(ops.convert_to_tensor(x), logits.dtype), logits


class _Readout:
    """x_hat from the decoder's output: sigmoid(logits), or the output itself."""

    def __init__(self, readout):
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}.")
        self.readout = readout

    @property
    def unit_interval(self):
        """Whether x_hat, and so the data it models, lies in [0, 1]."""
        return self.readout == "sigmoid"

    def mean(self, outputs):
        """x_hat = E[X | z] from the decoder's output."""
        outputs = ops.convert_to_tensor(outputs)
        return ops.sigmoid(outputs) if self.readout == "sigmoid" else outputs


class Gaussian(_Readout):
    """Imaginary Gaussian noise model N(x | x_hat, sigma^2 I) (eq. 5).

    Args:
        sigma: float, the imaginary noise standard deviation; finite and > 0.
        readout: "sigmoid" (x_hat = sigmoid(logits), data in [0, 1]) or
            "identity" (x_hat = the decoder's output, real-valued data).
    """

    name = "gaussian"

    def __init__(self, sigma, readout="sigmoid"):
        super().__init__(readout)
        self.scale = validation.validate_scale("sigma", sigma)

    def negative_log_likelihood(self, x, logits, include_constant=False):
        """-log p(x | z) per example; the first term of eq. 7, negated.

        Args:
            x: clean images, shape (batch, ...).
            logits: the decoder's output (x_hat = `mean(logits)`).
            include_constant: add d/2 log(2 pi sigma^2).
        """
        x, logits = _as_tensors(x, logits)
        x_hat = self.mean(logits)
        nll = reductions.sum_per_example(ops.square(x - x_hat)) / (2.0 * self.scale**2)
        return nll + self.constant(_num_pixels(x)) if include_constant else nll

    def constant(self, d):
        """The normalising constant of -log p(x | z) for d pixels: d/2 log(2 pi sigma^2)."""
        return 0.5 * d * math.log(2.0 * math.pi * self.scale**2)


class Laplace(_Readout):
    """Imaginary factorised Laplace noise model with scale alpha (eq. 10).

    Args:
        alpha: float, the Laplace scale; finite and > 0.
        readout: "sigmoid" or "identity", as `Gaussian`'s.
    """

    name = "laplace"

    def __init__(self, alpha, readout="sigmoid"):
        super().__init__(readout)
        self.scale = validation.validate_scale("alpha", alpha)

    def negative_log_likelihood(self, x, logits, include_constant=False):
        """-log p(x | z) per example; the first term of eq. 11, negated.

        Args:
            x: clean images, shape (batch, ...).
            logits: the decoder's output (x_hat = `mean(logits)`).
            include_constant: add d log(2 alpha).
        """
        x, logits = _as_tensors(x, logits)
        x_hat = self.mean(logits)
        nll = reductions.sum_per_example(ops.abs(x - x_hat)) / self.scale
        return nll + self.constant(_num_pixels(x)) if include_constant else nll

    def constant(self, d):
        """The normalising constant of -log p(x | z) for d pixels: d log(2 alpha)."""
        return d * math.log(2.0 * self.scale)


class Bernoulli(_Readout):
    """The vanilla VAE's Bernoulli decoder, evaluated from logits for stability.

    -log p(x | z) = sum_i softplus(l_i) - x_i l_i, the binary cross-entropy,
    which is also defined for grey levels x_i in [0, 1]. It has no separate
    normalising constant, so `include_constant` changes nothing. Its readout is
    the sigmoid: its mean is a probability.
    """

    name = "bernoulli"
    scale = None

    def __init__(self, readout="sigmoid"):
        if readout != "sigmoid":
            raise ValueError(f"The bernoulli noise model reads its mean out with the sigmoid "
                             f"(x_hat is a probability of data in [0, 1]); got readout={readout!r}. "
                             "For real-valued data use the gaussian or laplace model.")
        super().__init__(readout)

    def negative_log_likelihood(self, x, logits, include_constant=False):
        del include_constant  # The Bernoulli likelihood is already normalised.
        x, logits = _as_tensors(x, logits)
        return reductions.sum_per_example(ops.softplus(logits) - x * logits)


def get(noise, scale=None, readout="sigmoid"):
    """Returns the imaginary noise model named `noise` with its `scale`.

    Args:
        noise: one of "gaussian", "laplace", "bernoulli".
        scale: sigma for "gaussian", alpha for "laplace", unused (None) for
            "bernoulli".
        readout: one of `READOUTS` (see the module docstring).
    """
    if noise == "gaussian":
        return Gaussian(scale, readout)
    if noise == "laplace":
        return Laplace(scale, readout)
    if noise == "bernoulli":
        if scale is not None:
            raise ValueError(f"The bernoulli noise model takes no scale, got scale={scale}.")
        return Bernoulli(readout)
    raise ValueError(f"noise must be one of {NOISE_MODELS}, got {noise!r}.")

