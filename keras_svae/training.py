"""Training a model of this package on MNIST: the library behind examples/train.py.

`train_and_evaluate(config, outdir)` builds the model that `config` names,
fits it on the MNIST training set with `model.fit` (on one device, under a
`tf.distribute` strategy, or with JAX data parallelism), evaluates it on the
test set and leaves in `outdir`:

* `backup/`: `keras.callbacks.BackupAndRestore`'s state; rerunning the same
  command after a crash or a kill resumes from the last finished epoch, with
  the same data order and random draws as an uninterrupted run,
* `last.keras` (every finite epoch) and `best.keras` (lowest validation loss),
* `history.csv`: the epoch metrics, appended across resumes,
* `metrics.json`: the final test metrics, the config and the wall time of
  the call that finished the run (a resumed run counts its last part only);
  its presence marks the run finished, and a rerun returns its metrics
  instead of training again,
* `logs/`: TensorBoard scalars, robustness image grids, prior samples and
  the hyperparameters.

The defaults are the paper's schedule (Section 5): Adam, learning rate 1e-4,
batch size 16, 100 epochs.
"""

import contextlib
import csv
import dataclasses
import datetime
import json
import math
import os
import time
import types

import keras
import tensorflow as tf

from keras_svae import callbacks
from keras_svae import data
from keras_svae import deen
from keras_svae import distribution
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
        epochs, batch_size, learning_rate: the Adam schedule; batch_size is
            the global batch, split across replicas.
        data: a Keras-layout mnist.npz; None reads $KERAS_SVAE_MNIST, then tfds.
        train_size, test_size: use only the first N images of each split (0: all).
        seed: seeds weights, data order and the random draws.
        strategy: TensorFlow's `distribution.STRATEGIES` entry.
        tpu: TPU address for strategy "tpu".
        data_parallel: JAX: data parallelism over all devices (of all processes).
        coordinator_address, num_processes, process_id: JAX multi-process
            (multi-machine) training; see `distribution.initialize_jax_processes`.
        log_every: optimizer steps between step-level TensorBoard scalars.
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
    strategy: str = "default"
    tpu: str = None
    data_parallel: bool = False
    coordinator_address: str = None
    num_processes: int = 1
    process_id: int = 0
    log_every: int = 100
    verbose: int = 1


def run_paths(outdir):
    """The files of a run folder (see the module docstring)."""
    names = dict(backup="backup", last="last.keras", best="best.keras", history="history.csv",
                 metrics="metrics.json", logs="logs")
    return types.SimpleNamespace(
        outdir=outdir, **{key: os.path.join(outdir, name) for key, name in names.items()}
    )


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


def device_scope(config):
    """The context to build and compile the model in, its jit_compile, and the replicas.

    Under a TF strategy with several replicas, XLA is off: Keras's TF trainer
    with `jit_compile=True` under MirroredStrategy on CPU fails (a resource
    lives on another device), and the strategy itself already runs one
    compiled graph per replica.
    """
    if config.data_parallel:
        devices = distribution.jax_data_parallel().device_mesh.devices.size
        return contextlib.nullcontext(), "auto", devices
    if keras.backend.backend() != "tensorflow":
        if config.strategy != "default":
            raise ValueError(
                f"--strategy={config.strategy} needs KERAS_BACKEND=tensorflow; "
                "with JAX use --data_parallel."
            )
        return contextlib.nullcontext(), "auto", 1
    strategy = distribution.tf_strategy(config.strategy, config.tpu)
    replicas = strategy.num_replicas_in_sync
    return strategy.scope(), "auto" if replicas == 1 else False, replicas


class LastCheckpoint(keras.callbacks.Callback):
    """Saves the model after every epoch whose loss is finite (atomically)."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        if logs and math.isfinite(logs.get("loss", float("nan"))):
            partial = self.path + ".partial.keras"
            self.model.save(partial)
            os.replace(partial, self.path)  # Never a half-written last.keras.


def _best_validation_loss(history_path):
    """The lowest val_loss in history.csv so far (None for a new run)."""
    if not os.path.exists(history_path):
        return None
    with open(history_path) as f:
        losses = [float(row["val_loss"]) for row in csv.DictReader(f) if row.get("val_loss")]
    finite = [v for v in losses if math.isfinite(v)]
    return min(finite) if finite else None


def _first(images, n):
    return images[:n] if n else images


def _set_aside(outdir):
    """Renames a finished run folder so that a retrain loses nothing."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = f"{outdir.rstrip(os.sep)}.previous-{stamp}"
    os.rename(outdir, target)
    return target


def train_and_evaluate(config, outdir, retrain=False):
    """Trains (or resumes), evaluates and saves one run; returns the test metrics.

    Args:
        config: a `TrainConfig`.
        outdir: the run folder (see the module docstring).
        retrain: when the run has finished already, move its folder aside to
            `<outdir>.previous-<time>` and train anew; otherwise return its
            metrics without training.
    """
    start = time.perf_counter()
    paths = run_paths(outdir)
    if os.path.exists(paths.metrics):
        if not retrain:
            with open(paths.metrics) as f:
                return json.load(f)["test"]
        _set_aside(outdir)
    os.makedirs(outdir, exist_ok=True)
    if config.num_processes > 1:  # Before any JAX computation.
        distribution.initialize_jax_processes(
            config.coordinator_address, config.num_processes, config.process_id
        )

    keras.utils.set_random_seed(config.seed)  # The same initial weights on every worker.
    x_train = _first(data.load_mnist("train", path=config.data)[0], config.train_size)
    x_test = _first(data.load_mnist("test", path=config.data)[0], config.test_size)

    scope, jit_compile, replicas = device_scope(config)
    with scope:
        model = build_model(config)
        model.compile(keras.optimizers.Adam(config.learning_rate), jit_compile=jit_compile)

    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)  # Outside any strategy scope.
    # Several replicas split every batch evenly only if it has the full size
    # (and keras.distribution splits batches of a known, fixed size only).
    fixed = replicas > 1
    if fixed and config.batch_size % replicas:
        raise ValueError(
            f"batch_size={config.batch_size} does not split evenly over {replicas} replicas."
        )
    train = data.make_dataset(
        x_train, config.batch_size, seed=config.seed, epoch=epoch, drop_remainder=fixed
    )
    test = data.make_dataset(x_test, 250 if len(x_test) >= 250 else len(x_test), shuffle=False,
                             drop_remainder=fixed)
    history = model.fit(
        train,
        epochs=config.epochs,
        validation_data=test,
        shuffle=False,  # The dataset orders every epoch itself.
        callbacks=_callbacks(config, paths, epoch, x_test),
        verbose=config.verbose,
    )
    losses = history.history.get("loss", [])
    if losses and not all(math.isfinite(v) for v in losses):
        raise FloatingPointError(
            f"Training diverged: the loss became NaN or infinite. {paths.last} holds the last "
            "epoch with a finite loss; try a lower --learning_rate."
        )

    metrics = model.evaluate(test, verbose=0, return_dict=True)
    partial = paths.metrics + ".partial"
    with open(partial, "w") as f:
        json.dump({"test": metrics, "config": dataclasses.asdict(config),
                   "wall_seconds": time.perf_counter() - start}, f, indent=2)
    os.replace(partial, paths.metrics)  # Written last: it marks the run finished.
    return metrics


def _callbacks(config, paths, epoch, x_test):
    return [
        keras.callbacks.TerminateOnNaN(),
        callbacks.EpochSeed(epoch),
        # double_checkpoint: a kill while the backup is written leaves the previous one.
        keras.callbacks.BackupAndRestore(paths.backup, double_checkpoint=True),
        keras.callbacks.CSVLogger(paths.history, append=True),
        LastCheckpoint(paths.last),
        keras.callbacks.ModelCheckpoint(
            paths.best, monitor="val_loss", save_best_only=True,
            initial_value_threshold=_best_validation_loss(paths.history),
        ),
        keras.callbacks.TensorBoard(paths.logs, update_freq="epoch"),
        callbacks.StepScalars(os.path.join(paths.logs, "train"), every=config.log_every),
        callbacks.RobustnessImages(os.path.join(paths.logs, "images"), x_test[:8], seed=config.seed),
        callbacks.HParams(paths.logs, dataclasses.asdict(config),
                          trial_id=os.path.basename(os.path.normpath(paths.outdir))),
    ]
