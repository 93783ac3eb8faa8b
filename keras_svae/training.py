"""Training a model of this package on MNIST: the library behind examples/train.py.

`train_and_evaluate(config, outdir)` builds the model that `config` names,
fits it on the MNIST training set with `model.fit`, evaluates it on the test
set and leaves in `outdir`:

* `model.keras`: the trained model (`keras.saving.load_model` reads it back),
* `metrics.json`: the final test metrics and the config that produced them,
* `logs/`: TensorBoard scalars, written by `keras.callbacks.TensorBoard`.

The defaults are the paper's schedule (Section 5): Adam, learning rate 1e-4,
batch size 16, 100 epochs.
"""

import dataclasses
import json
import os

import keras

from keras_svae import data
from keras_svae import deen
from keras_svae import networks
from keras_svae import vae

MODELS = ("sigma_vae", "alpha_vae", "vanilla_vae", "deen")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run.

    Attributes:
        model: one of `MODELS`.
        sigma: the sigma-VAE's imaginary Gaussian std (eq. 5), or DEEN's
            training noise std (eq. 2).
        alpha: the alpha-VAE's imaginary Laplace scale (eq. 10).
        beta: the KL weight (Theorem 1's (sigma, beta)-VAE).
        strides: encoder convolution stride (2: "strided", 1: "no_downsampling").
        latent_dim: dimension of z (VAEs only).
        epochs, batch_size, learning_rate: the Adam schedule.
        data: a Keras-layout mnist.npz; None reads $KERAS_SVAE_MNIST, then tfds.
        train_size, test_size: use only the first N images of each split (0: all).
        seed: seeds weights, shuffling and the posterior draws.
        verbose: Keras progress output (1: a progress bar per epoch).
    """

    model: str = "sigma_vae"
    sigma: float = 0.9
    alpha: float = 0.9
    beta: float = 1.0
    strides: int = 2
    latent_dim: int = 100
    epochs: int = 100
    batch_size: int = 16
    learning_rate: float = 1e-4
    data: str = None
    train_size: int = 0
    test_size: int = 0
    seed: int = 0
    verbose: int = 1


def build_model(config):
    """The uncompiled model that `config` describes."""
    if config.model == "deen":
        energy = networks.EnergyNetwork(strides=config.strides)
        return deen.DEEN(config.sigma, energy=energy, seed=config.seed)
    network = dict(strides=config.strides, latent_dim=config.latent_dim, seed=config.seed)
    if config.model == "sigma_vae":
        return vae.sigma_vae(config.sigma, beta=config.beta, **network)
    if config.model == "alpha_vae":
        return vae.alpha_vae(config.alpha, beta=config.beta, **network)
    if config.model == "vanilla_vae":
        return vae.vanilla_vae(beta=config.beta, **network)
    raise ValueError(f"model must be one of {MODELS}, got {config.model!r}.")


def _first(images, n):
    return images[:n] if n else images


def train_and_evaluate(config, outdir):
    """Trains, evaluates and saves one model; returns the test metrics (a dict)."""
    os.makedirs(outdir, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    x_train = _first(data.load_mnist("train", path=config.data)[0], config.train_size)
    x_test = _first(data.load_mnist("test", path=config.data)[0], config.test_size)

    model = build_model(config)
    model.compile(keras.optimizers.Adam(config.learning_rate))
    model.fit(
        data.make_dataset(x_train, config.batch_size, seed=config.seed),
        epochs=config.epochs,
        shuffle=False,  # The dataset reshuffles itself every epoch.
        validation_data=data.make_dataset(x_test, 250, shuffle=False),
        callbacks=[keras.callbacks.TensorBoard(os.path.join(outdir, "logs"), update_freq=100)],
        verbose=config.verbose,
    )
    metrics = model.evaluate(
        data.make_dataset(x_test, 250, shuffle=False), verbose=0, return_dict=True
    )
    model.save(os.path.join(outdir, "model.keras"))
    with open(os.path.join(outdir, "metrics.json"), "w") as f:
        json.dump({"test": metrics, "config": dataclasses.asdict(config)}, f, indent=2)
    return metrics
