"""Robustness curves: how much of a digit survives real noise, in numbers.

The paper shows robustness in pictures (Figures 2-6): the sigma-VAE's
x_hat(z), z ~ q(z|y) stays a digit under heavy noise while the vanilla VAE
breaks down. Here that becomes two numbers per (estimator, noise level):

* the accuracy of a classifier trained on clean MNIST (`classifier`) on the
  estimate of x made from y,
* the estimate's squared error to the clean x, ||x - x_hat||^2 summed over
  pixels and averaged over images (Table 2's quantity when y = x).

An estimator maps a batch of noisy y to estimates of x: `identity` (the raw
y, unclipped: pixels outside [0, 1] go to the classifier as they are),
`estimator(deen_model)` (x_hat(y), eq. 3) or `estimator(vae_model)`
(x_hat(z), z ~ q(z|y), one draw per image). Every estimator sees the same
noisy images at each level.
"""

import keras
import numpy as np
from keras import ops

from keras_svae import classifier as classifier_lib
from keras_svae import corruption

NOISES = {
    "gaussian": corruption.gaussian,
    "laplace": corruption.laplace,
    "salt_and_pepper": corruption.salt_and_pepper,
}
# The levels of the robustness curves: sigma, alpha and p. Gaussian adds 0.9,
# the paper's level for Figures 2-5.
LEVELS = {
    "gaussian": (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.2),
    "laplace": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    "salt_and_pepper": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
}


def identity(y):
    """The raw noisy y as its own estimate."""
    return y


def estimator(model, seed=0):
    """x_hat(y) for DEEN; x_hat(z), z ~ q(z|y), for a VAE (seeded, one draw per call)."""
    if hasattr(model, "reconstruct"):
        generator = keras.random.SeedGenerator(seed)
        return lambda y: model.reconstruct(y, seed=generator)
    return model.denoise


def corrupt(noise, images, level, seed):
    """`images` under `noise` ("gaussian", "laplace", "salt_and_pepper") at `level`."""
    if noise not in NOISES:
        raise ValueError(f"noise must be one of {sorted(NOISES)}, got {noise!r}.")
    return ops.convert_to_numpy(NOISES[noise](images, level, seed=seed))


def _batched(function, images, batch_size):
    return np.concatenate([ops.convert_to_numpy(function(images[i:i + batch_size]))
                           for i in range(0, len(images), batch_size)])


def curves(classifier, estimators, images, labels, noise, levels=None, seed=0, batch_size=500):
    """Accuracy and squared error of every estimator at every noise level.

    Args:
        classifier: a Keras model, images -> class logits.
        estimators: dict name -> function (a batch of noisy y -> estimates).
        images, labels: clean test images (N, H, W, C) in [0, 1], int labels (N,).
        noise: a key of `NOISES`; levels: defaults to `LEVELS[noise]`.
        seed: the noise of level k is drawn with seed + k, the same for all.

    Returns:
        A list of dicts: estimator, level, accuracy, mse.
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise ValueError(f"Got {len(images)} images but {len(labels)} labels.")
    rows = []
    for k, level in enumerate(LEVELS[noise] if levels is None else levels):
        y = corrupt(noise, images, level, seed=seed + k)
        for name, function in estimators.items():
            estimate = _batched(function, y, batch_size)
            rows.append(dict(
                estimator=name, level=float(level),
                accuracy=classifier_lib.accuracy(classifier, estimate, labels, batch_size),
                mse=float(np.mean(np.sum((estimate - images) ** 2, axis=(1, 2, 3)))),
            ))
    return rows
