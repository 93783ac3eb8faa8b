"""Evaluating a trained VAE: log-likelihood, active units, the KL spectrum, latent paths.

* `log_likelihood`: the importance-weighted estimate of log p(x) with q(z | x)
  as the proposal (Burda et al. 2016, the IWAE bound),

      log p(x) >= E log (1/k) sum_j p(x | z_j) p(z_j) / q(z_j | x),  z_j ~ q(z | x),

  in nats, every constant of p(x | z) included (eqs. 5, 6 and 10 of the paper;
  the Bernoulli's needs none). k = 1 is the one-sample ELBO; the bound rises
  with k towards log p(x). For the sigma-VAE this is the density of the noisy
  Y = X + N(0, sigma^2 I) that the model is written for, so noisy y of any
  real values is accepted; the vanilla VAE's Bernoulli takes data in [0, 1].
  `bits_per_dim` turns it into bits per dimension.
* `latent_activity` and `active_units`: Cov_x(E_q[z_j]) per latent unit, and
  how many exceed 0.01 (Burda et al. 2016's active units); `most_active` ranks them.
* `kl_per_dimension`: the mean over x of each unit's KL[q(z_j | x) || N(0, 1)];
  the units' values sum to the model's KL. `latent_statistics` gives both
  from one pass of the encoder.
* `interpolate` and `traverse`: decoded paths through latent space, from the
  posterior means of given examples.

Every function takes a `SigmaVAE` (its `encode`, `decoder` and `noise_model`)
and returns NumPy arrays.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_svae import seeding
from keras_svae import validation

_LOG_2PI = math.log(2.0 * math.pi)
ACTIVE_THRESHOLD = 0.01  # Burda et al. (2016): a unit is active when Cov_x(E_q[z_j]) > 0.01.


def log_likelihood(model, x, k=1000, seed=0, draws_per_call=4096):
    """The importance-weighted estimate of log p(x) per example, in nats (see the module).

    Args:
        model: a `SigmaVAE`.
        x: data of shape (n, *model.data_shape); finite (Bernoulli: in [0, 1]).
        k: importance samples per example, >= 1 (k = 1: the ELBO).
        seed: an int, the stream (seed, `seeding.LIKELIHOOD`), or a
            `keras.random.SeedGenerator`.
        draws_per_call: examples decoded per decoder call (images x samples),
            which bounds the memory whatever k is. It also sets how the draws
            are grouped, so an estimate is reproduced by the same seed and
            draws_per_call; another draws_per_call is another set of draws.

    Returns:
        float64 array (n,).
    """
    k, draws_per_call = _positive("k", k), _positive("draws_per_call", draws_per_call)
    x = _examples(model, x, unit_interval=model.noise == "bernoulli")
    generator = seed if isinstance(seed, keras.random.SeedGenerator) else (
        seeding.generator(seed, seeding.LIKELIHOOD))
    chunk = min(k, draws_per_call)
    images = max(1, draws_per_call // chunk)
    return np.concatenate([_log_likelihood_batch(model, x[i:i + images], k, chunk, generator)
                           for i in range(0, len(x), images)])


def _log_likelihood_batch(model, x, k, chunk, generator):
    mean, log_var = model.encode(x)
    total = None  # log sum_j w_j so far, per example.
    for start in range(0, k, chunk):
        weights = _log_weights(model, x, mean, log_var, min(chunk, k - start), generator)
        partial = ops.logsumexp(weights, axis=0)
        total = partial if total is None else ops.logaddexp(total, partial)
    return ops.convert_to_numpy(total).astype(np.float64) - math.log(k)


def _log_weights(model, x, mean, log_var, count, generator):
    """log p(x | z_j) + log p(z_j) - log q(z_j | x) for `count` draws: (count, batch)."""
    batch, latent = ops.shape(mean)
    eps = keras.random.normal((count, batch, latent), dtype=mean.dtype, seed=generator)
    z = mean + ops.exp(0.5 * log_var) * eps
    log_q = -0.5 * ops.sum(ops.square(eps) + log_var + _LOG_2PI, axis=-1)
    log_prior = -0.5 * ops.sum(ops.square(z) + _LOG_2PI, axis=-1)
    outputs = model.decoder(ops.reshape(z, (count * batch, latent)))
    repeated = ops.reshape(ops.broadcast_to(ops.convert_to_tensor(x)[None],
                                            (count,) + tuple(x.shape)), (count * batch,) + x.shape[1:])
    log_px = -model.noise_model.negative_log_likelihood(repeated, outputs, include_constant=True)
    return ops.reshape(log_px, (count, batch)) + log_prior - log_q


def bits_per_dim(log_px, data_shape):
    """-log p(x) / (d log 2): nats per example to bits per dimension, d = prod(data_shape).

    A density's figure as it is: no dequantisation offset (8-bit data's log 256) is
    added, and a sigma- or alpha-VAE's log p is that of the noisy Y, so its bits/dim
    compare with its own kind only, not with a Bernoulli model's or published ones.
    """
    log_px = np.asarray(log_px, np.float64)
    if np.isnan(log_px).any():
        raise ValueError("log_px holds NaN.")
    return -log_px / (math.prod(data_shape) * math.log(2.0))


def _examples(model, x, unit_interval=False):
    """x as float32 NumPy, checked: at least one example of the model's shape, finite."""
    x = np.asarray(x, np.float32)
    validation.check_images(x, model.data_shape, unit_interval=unit_interval)
    if len(x) == 0:
        raise ValueError(f"x holds no examples (shape {x.shape}).")
    return x


def _posterior(model, x, batch_size=500):
    """q(z | x)'s means and log-variances for all of x, as float64 NumPy arrays."""
    x = _examples(model, x)
    parts = [model.encode(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return tuple(np.concatenate([ops.convert_to_numpy(p[j]) for p in parts]).astype(np.float64)
                 for j in (0, 1))


def latent_statistics(model, x, batch_size=500):
    """(Cov_x(E_q[z_j]), the mean KL[q(z_j | x) || N(0, 1)]) per latent unit j, from one pass
    of the encoder over x: what `latent_activity` and `kl_per_dimension` return."""
    mean, log_var = _posterior(model, x, batch_size)
    if len(mean) < 2:
        raise ValueError(f"Latent activity is a variance over examples: give at least 2, got "
                         f"{len(mean)}.")
    return mean.var(axis=0, ddof=1), _mean_unit_kl(mean, log_var)


def latent_activity(model, x, batch_size=500):
    """Cov_x(E_q[z_j]) per latent unit j: the variance over x of the posterior means."""
    return latent_statistics(model, x, batch_size)[0]


def active_units(model, x, threshold=ACTIVE_THRESHOLD, batch_size=500):
    """How many latent units have Cov_x(E_q[z_j]) > threshold (Burda et al. 2016)."""
    return count_active(latent_activity(model, x, batch_size), threshold)


def count_active(activity, threshold=ACTIVE_THRESHOLD):
    """How many of `latent_activity`'s Cov_x(E_q[z_j]) exceed threshold (Burda et al. 2016)."""
    return int(np.sum(np.asarray(activity) > threshold))


def most_active(activity, count):
    """The indices of the `count` units of largest `latent_activity`, largest first."""
    order = np.argsort(-np.asarray(activity, np.float64), kind="stable")  # Ties: lower first.
    return [int(j) for j in order[:_positive("count", count)]]


def kl_per_dimension(model, x, batch_size=500):
    """The mean over x of KL[q(z_j | x) || N(0, 1)] for each unit j: (latent_dim,), nats.

    1/2 (mu_j^2 + s_j^2 - log s_j^2 - 1), whose sum over j is the KL of eq. 7.
    """
    return _mean_unit_kl(*_posterior(model, x, batch_size))


def _mean_unit_kl(mean, log_var):
    return (0.5 * (mean**2 + np.exp(log_var) - log_var - 1.0)).mean(axis=0)


def interpolate(model, x_a, x_b, steps=10):
    """x_hat along the straight line between the posterior means of two examples.

    Returns (steps, *data_shape): row 0 decodes E_q[z | x_a], row -1 E_q[z | x_b].
    """
    steps = _positive("steps", steps)
    if steps < 2:
        raise ValueError(f"An interpolation needs steps >= 2 (its two ends), got {steps}.")
    ends = np.stack([np.asarray(x_a, np.float32), np.asarray(x_b, np.float32)])
    mean, _ = _posterior(model, ends)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return ops.convert_to_numpy(model.decode(((1 - t) * mean[0] + t * mean[1]).astype(np.float32)))


def traverse(model, x, units, values=np.linspace(-3.0, 3.0, 9)):
    """x_hat as each of `units` sweeps `values`, the others fixed at E_q[z | x].

    Returns (len(units), len(values), *data_shape).
    """
    mean, _ = _posterior(model, np.asarray(x, np.float32)[None])
    units, values = [int(u) for u in units], np.asarray(values, np.float64)
    if any(not 0 <= u < mean.shape[1] for u in units):
        raise ValueError(f"units must lie in [0, {mean.shape[1]}), got {units}.")
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError(f"values must be a 1-D sequence of finite numbers, got {values}.")
    z = np.repeat(mean, len(units) * len(values), axis=0).reshape(len(units), len(values), -1)
    for row, unit in enumerate(units):
        z[row, :, unit] = values
    decoded = ops.convert_to_numpy(model.decode(z.reshape(-1, z.shape[-1]).astype(np.float32)))
    return decoded.reshape((len(units), len(values)) + decoded.shape[1:])


def _positive(name, value):
    try:  # int() of NaN, inf or a string raises: each is refused with the same message.
        whole = not isinstance(value, bool) and int(value) == value and value >= 1
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole:
        raise ValueError(f"{name} must be an integer >= 1, got {name}={value!r}.")
    return int(value)
