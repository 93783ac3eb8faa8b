"""Theorems 1 and 2 in numbers: equivalent models follow the same training path.

Eq. 9: L(x | sigma_2) = (sigma_1 / sigma_2)^2 L(x | sigma_1, beta) + C with
beta = sigma_2^2 / sigma_1^2 (Theorem 2, Laplace: beta = alpha_2 / alpha_1 and
the factor alpha_1 / alpha_2). The two losses differ by the factor c, so their
gradients do too. Trained from the same weights on the same batches with the
same posterior draws:

* plain SGD: the (sigma_1, beta)-model at learning rate eta * c follows the
  sigma_2-model's path at rate eta exactly (up to float rounding);
* Adam: it divides the gradient by its running RMS, so the factor c cancels
  but for Adam's epsilon, and both models at the same rate stay close; the
  closer, the smaller epsilon is next to the gradients' RMS.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from keras_svae import callbacks
from keras_svae import data
from keras_svae import seeding
from keras_svae import vae


@dataclasses.dataclass
class PairResult:
    """How far apart the two models ended, and what they learned."""

    optimizer: str
    steps: int
    max_weight_difference: float
    max_weight_magnitude: float
    metrics_scale_2: dict
    metrics_scale_1_beta: dict


def factor(noise, scale_1, scale_2):
    """c in L(scale_2) = c L(scale_1, beta) + C (eqs. 9 and 12)."""
    return (scale_1 / scale_2) ** 2 if noise == "gaussian" else scale_1 / scale_2


def equivalent_beta(noise, scale_1, scale_2):
    """beta with L(scale_2) equivalent to L(scale_1, beta) (Theorems 1 and 2)."""
    return (scale_2 / scale_1) ** 2 if noise == "gaussian" else scale_2 / scale_1


def train_pair(images, test_images, noise="gaussian", scale_1=0.3, scale_2=0.9,
               optimizer="sgd", learning_rate=1e-3, epochs=1, batch_size=64, seed=0,
               rescale_rate=True, adam_epsilon=1e-7, **network):
    """Trains the scale_2-model and the (scale_1, beta)-model side by side.

    Args:
        images, test_images: training and evaluation images.
        noise: "gaussian" (Theorem 1) or "laplace" (Theorem 2).
        scale_1, scale_2: the two sigmas (or alphas).
        optimizer: "sgd" (rates eta and eta * c) or "adam" (rate eta for both).
        learning_rate: eta, the scale_2-model's rate.
        epochs, batch_size, seed: the shared schedule.
        adam_epsilon: Adam's epsilon, the one term that does not scale with c.
        rescale_rate: with SGD, run the (scale_1, beta)-model at eta * c (True,
            the theorem's prescription) or at eta (False: a control).
        **network: passed to both `SigmaVAE`s (e.g. a smaller network).

    Returns:
        A `PairResult`.
    """
    c = factor(noise, scale_1, scale_2)
    beta = equivalent_beta(noise, scale_1, scale_2)
    seeding.set_weights_seed(seed)
    model_2 = vae.SigmaVAE(noise=noise, scale=scale_2, seed=seed, **network)
    model_1 = vae.SigmaVAE(noise=noise, scale=scale_1, beta=beta, seed=seed, **network)
    model_1.set_weights(model_2.get_weights())
    rate_1 = learning_rate * c if optimizer == "sgd" and rescale_rate else learning_rate
    for model, rate in ((model_2, learning_rate), (model_1, rate_1)):
        if optimizer == "sgd":
            opt = keras.optimizers.SGD(rate)
        else:
            opt = keras.optimizers.Adam(rate, epsilon=adam_epsilon)
        model.compile(opt)
        # The same batches in the same order (a function of seed and epoch
        # alone), and, from the same seed, the same posterior draws.
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        model.fit(data.make_dataset(images, batch_size, seed=seed, epoch=epoch), epochs=epochs,
                  verbose=0, shuffle=False, callbacks=[callbacks.EpochSeed(epoch)])
    differences = [np.abs(a - b).max() for a, b in zip(model_1.get_weights(), model_2.get_weights())]
    test = data.make_dataset(test_images, 250, shuffle=False)
    return PairResult(
        optimizer=optimizer,
        steps=int(keras.ops.convert_to_numpy(model_2.optimizer.iterations)),
        max_weight_difference=float(max(differences)),
        max_weight_magnitude=float(max(np.abs(w).max() for w in model_2.get_weights())),
        metrics_scale_2=model_2.evaluate(test, verbose=0, return_dict=True),
        metrics_scale_1_beta=model_1.evaluate(test, verbose=0, return_dict=True),
    )
