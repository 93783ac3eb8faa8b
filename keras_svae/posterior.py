"""The factorised Gaussian posterior q(z | x) and its KL to the prior N(0, I).

Footnote 3 of the paper: p(z) = N(z | 0, I) and
q(z | x) = prod_i N(z_i | mu_i(x), s_i^2(x)). The encoder outputs the mean and
the log-variance log s^2 (unconstrained, so any real output is valid).
"""

from keras import ops

from keras_svae import distribution


def sample(mean, log_var, seed):
    """Reparameterised draw z = mu + s * eps, eps ~ N(0, I).

    Gradients flow to `mean` and `log_var` through the draw (the
    reparameterisation trick), which is what makes the ELBO trainable.

    Args:
        mean: (batch, latent_dim) posterior means.
        log_var: (batch, latent_dim) posterior log-variances.
        seed: a `keras.random.SeedGenerator` or an int.

    Under a `tf.distribute` strategy each replica draws its own rows of the
    global batch's noise (see `distribution.normal`).
    """
    eps = distribution.normal(ops.shape(mean), mean.dtype, seed)
    return mean + ops.exp(0.5 * log_var) * eps


def kl_divergence(mean, log_var):
    """KL[q(z | x) || N(0, I)] per example, in closed form.

    KL = 1/2 sum_i (mu_i^2 + s_i^2 - log s_i^2 - 1).

    Returns:
        (batch,) tensor of KL divergences in nats.
    """
    return 0.5 * ops.sum(ops.square(mean) + ops.exp(log_var) - log_var - 1.0, axis=-1)
