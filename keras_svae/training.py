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
from absl import flags

from keras_svae import callbacks
from keras_svae import data
from keras_svae import deen
from keras_svae import distribution
from keras_svae import networks
from keras_svae import seeding
from keras_svae import vae

# The one place a model's name meets its noise and its scale: per model of `TrainConfig`,
# its imaginary noise model (`imaginary_noise.NOISE_MODELS`; DEEN has none, it denoises
# real Gaussian noise) and the `TrainConfig` field of its scale (the vanilla VAE's
# Bernoulli has none; DEEN's is that noise's std). Read it through `noise_of`, `model_of`,
# `scale_field` and `scale_of`.
_NAMES = {
    "sigma_vae": ("gaussian", "sigma"),
    "alpha_vae": ("laplace", "alpha"),
    "vanilla_vae": ("bernoulli", None),
    "deen": (None, "sigma"),
}
MODELS = tuple(_NAMES)
VAES = tuple(model for model, (noise, _) in _NAMES.items() if noise)
JIT_COMPILE = ("fastest", "auto", "true", "false")

# The fastest settings measured per backend and model (benchmarks/speed.py,
# docs/benchmarks.md). TensorFlow: the steps run in one graph loop of 100 steps per call;
# XLA, which Keras's "auto" leaves off on a CPU, speeds the VAEs' step at small batches
# (where per-step overhead dominates) but slows it at batch 128, and slows DEEN's
# second-order graph at every batch size. JAX: Keras's JAX trainer jits each step and
# loops on the host, so several steps per call save only callback dispatch. PyTorch:
# eager (torch.compile cannot double-backprop; for the VAEs see docs/benchmarks.md).
FASTEST = {
    "tensorflow": dict(jit_compile=True, steps_per_execution=100),
    "jax": dict(jit_compile=True, steps_per_execution=1),
    "torch": dict(jit_compile=False, steps_per_execution=1),
}
FASTEST_DEEN = dict(FASTEST, tensorflow=dict(jit_compile=False, steps_per_execution=100))
# TensorFlow's VAEs use XLA up to this batch size per replica (measured: faster at 16,
# slower at 128).
TF_XLA_MAX_BATCH = 32


def _setting(default, help, choices=None):
    """A `TrainConfig` field: its default, its help text and, for an enum, its choices."""
    return dataclasses.field(default=default, metadata=dict(help=help, choices=choices))


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run.

    Every field is one setting, with its help text in its metadata;
    `define_flags` makes one command-line flag of each (examples/train.py),
    so a new field is a new flag. The defaults are the paper's schedule.
    """

    model: str = _setting("sigma_vae", "Which model to train.", MODELS)
    sigma: float = _setting(
        0.9, "sigma-VAE: imaginary Gaussian noise std (eq. 5); DEEN: training noise std (eq. 2).")
    alpha: float = _setting(0.9, "alpha-VAE: imaginary Laplace noise scale (eq. 10).")
    beta: float = _setting(1.0, "Weight of the KL term (Theorem 1's (sigma, beta)-VAE).")
    strides: int = _setting(2, "Encoder convolution stride: 2 downsamples, 1 does not.")
    encoder: str = _setting(
        "convnet", "The encoder's trunk (DEEN: its energy network's): the paper's ConvNet, or mlp, "
        "the same without its convolutions (Flatten, Dense(200); for DEEN this is not "
        "networks.MLPEnergy).", tuple(networks.ENCODERS))
    latent_dim: int = _setting(100, "Dimension of z (VAEs only).")
    epochs: int = _setting(100, "Training epochs.")
    batch_size: int = _setting(16, "Global batch size, split across replicas.")
    learning_rate: float = _setting(1e-4, "Learning rate (train_and_evaluate uses Adam).")
    dataset: str = _setting("mnist", "A tensorflow_datasets image dataset (mnist, fashion_mnist, "
                            "cifar10, svhn_cropped, ...); --data gives its npz file instead.")
    data: str = _setting(None, "Keras-layout npz of the dataset (MNIST: default "
                         "$KERAS_SVAE_MNIST, then tfds).")
    train_size: int = _setting(0, "Train on the first N images only (0: all 60,000).")
    test_size: int = _setting(0, "Evaluate on the first N test images only (0: all).")
    seed: int = _setting(0, "Seeds the weights, the data order and the random draws.")
    strategy: str = _setting("default", "TensorFlow: tf.distribute strategy (multi_worker "
                             "reads TF_CONFIG).", distribution.STRATEGIES)
    tpu: str = _setting(None, "TPU address, with --strategy=tpu.")
    data_parallel: bool = _setting(False, "JAX: data parallelism over every device (of every "
                                   "process).")
    coordinator_address: str = _setting(None, "JAX multi-process: host:port of process 0.")
    num_processes: int = _setting(1, "JAX multi-process: number of processes.")
    process_id: int = _setting(0, "JAX multi-process: this process's rank.")
    steps_per_execution: int = _setting(
        0, "Optimizer steps per compiled call (0: the fastest measured for the backend).")
    jit_compile: str = _setting(
        "fastest", "Compile the train step: fastest (measured per backend), auto (Keras's "
        "choice), true or false.", JIT_COMPILE)
    log_every: int = _setting(100, "Optimizer steps between step-level TensorBoard scalars.")
    verbose: int = _setting(1, "Keras progress output (1: a progress bar per epoch).")

    def __post_init__(self):
        # An enum setting is checked where it is made, before any run folder records it.
        for field in dataclasses.fields(self):
            choices, value = field.metadata["choices"], getattr(self, field.name)
            if choices and value not in choices:
                raise ValueError(f"{field.name} must be one of {tuple(choices)}, got {value!r}.")


def _names(model):
    if model not in _NAMES:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}.")
    return _NAMES[model]


def noise_of(model):
    """A VAE's imaginary noise model: "sigma_vae" -> "gaussian", "alpha_vae" -> "laplace",
    "vanilla_vae" -> "bernoulli"."""
    noise = _names(model)[0]
    if noise is None:
        raise ValueError(f"{model} has no imaginary noise model; the VAEs {VAES} have one.")
    return noise


def model_of(noise):
    """The VAE of an imaginary noise model: the inverse of `noise_of`."""
    models = {noise_of(model): model for model in VAES}
    if noise not in models:
        raise ValueError(f"noise must be one of {tuple(models)}, got {noise!r}.")
    return models[noise]


def scale_field(model):
    """The `TrainConfig` field that holds `model`'s scale: "sigma" (sigma-VAE, DEEN),
    "alpha" (alpha-VAE) or None (the vanilla VAE)."""
    return _names(model)[1]


def scale_of(config):
    """The scale of a `TrainConfig`'s model (its sigma or alpha), or None (vanilla VAE)."""
    field = scale_field(config.model)
    return getattr(config, field) if field else None


_DEFINE = {str: flags.DEFINE_string, int: flags.DEFINE_integer, float: flags.DEFINE_float,
           bool: flags.DEFINE_bool}


def define_flags(flag_values=flags.FLAGS, names=None, defaults=None):
    """Defines one absl flag per `TrainConfig` field, with its default and help.

    Args:
        flag_values: the `flags.FlagValues` to define them in.
        names: the fields to make flags of (default: every field).
        defaults: {name: (default, why)} for a flag whose default is not the
            field's (e.g. None: the experiments' schedule decides); `why`
            joins its help text.
    """
    defaults = defaults or {}
    for field in dataclasses.fields(TrainConfig):
        if names is not None and field.name not in names:
            continue
        default, why = defaults.get(field.name, (field.default, None))
        text = field.metadata["help"] + (f" {why}" if why else "")
        choices = field.metadata["choices"]
        if choices:
            flags.DEFINE_enum(field.name, default, list(choices), text, flag_values=flag_values)
        else:
            _DEFINE[field.type](field.name, default, text, flag_values=flag_values)


def config_from_flags(flag_values=flags.FLAGS):
    """The `TrainConfig` that the flags of `define_flags` hold."""
    return TrainConfig(**{field.name: flag_values[field.name].value
                          for field in dataclasses.fields(TrainConfig)})


def run_paths(outdir):
    """The files of a run folder (see the module docstring)."""
    names = dict(backup="backup", last="last.keras", best="best.keras", history="history.csv",
                 metrics="metrics.json", logs="logs")
    return types.SimpleNamespace(
        outdir=outdir, **{key: os.path.join(outdir, name) for key, name in names.items()}
    )


def build_model(config, data_shape=(28, 28, 1)):
    """The uncompiled model that `config` describes, for examples of `data_shape`."""
    data_shape = tuple(data_shape)
    if config.model == "deen":
        energy = networks.EnergyNetwork(networks.ENCODERS[config.encoder], config.strides)
        return deen.DEEN(scale_of(config), energy=energy, data_shape=data_shape, seed=config.seed)
    return vae.SigmaVAE(noise=noise_of(config.model), scale=scale_of(config), beta=config.beta,
                        conv_channels=networks.ENCODERS[config.encoder], strides=config.strides,
                        latent_dim=config.latent_dim, seed=config.seed, data_shape=data_shape)


def compile_settings(config, replicas=1):
    """`model.compile`'s (jit_compile, steps_per_execution) for `config`.

    A `SigmaVAEFamily` takes the same settings as one of its members (measured:
    benchmarks/family_speed.py).

    "fastest" takes `FASTEST[backend]` (`FASTEST_DEEN` for DEEN), except that
    TensorFlow uses XLA only up to `TF_XLA_MAX_BATCH` examples per replica, and
    under a TF strategy with several replicas XLA stays off: Keras's TF trainer
    with `jit_compile=True` under MirroredStrategy on CPU fails (a resource
    lives on another device), and the strategy itself already runs one
    compiled graph per replica.
    """
    if config.steps_per_execution < 0:
        raise ValueError(
            f"steps_per_execution must be >= 0 (0: the fastest), got {config.steps_per_execution}."
        )
    fastest = (FASTEST_DEEN if config.model == "deen" else FASTEST)[keras.backend.backend()]
    jit_compile = {"fastest": fastest["jit_compile"], "auto": "auto", "true": True,
                   "false": False}[config.jit_compile]
    if keras.backend.backend() == "tensorflow" and jit_compile is True and (
        replicas > 1
        or (config.jit_compile == "fastest" and config.batch_size > TF_XLA_MAX_BATCH)
    ):
        jit_compile = False
    return jit_compile, config.steps_per_execution or fastest["steps_per_execution"]


def device_scope(config):
    """The context to build and compile the model in, and the number of replicas."""
    if config.data_parallel:
        devices = distribution.jax_data_parallel().device_mesh.devices.size
        return contextlib.nullcontext(), devices
    if keras.backend.backend() != "tensorflow":
        if config.strategy != "default":
            raise ValueError(
                f"--strategy={config.strategy} needs KERAS_BACKEND=tensorflow; "
                "with JAX use --data_parallel."
            )
        return contextlib.nullcontext(), 1
    strategy = distribution.tf_strategy(config.strategy, config.tpu)
    return strategy.scope(), strategy.num_replicas_in_sync


def save_atomically(model, path):
    """Saves a model to `path` through a temporary file: never a half-written one."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    partial = path + ".partial.keras"
    model.save(partial)
    os.replace(partial, path)


def write_json_atomically(path, value):
    """Writes `value` as JSON to `path` through a temporary file."""
    partial = path + ".partial"
    with open(partial, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(partial, path)


class LastCheckpoint(keras.callbacks.Callback):
    """Saves the model after every epoch whose loss is finite (atomically)."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        if logs and math.isfinite(logs.get("loss", float("nan"))):
            save_atomically(self.model, self.path)


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


def load_images(config):
    """The (train, test) images that `config` asks for (its dataset, data file and sizes)."""
    return (_first(data.load(config.dataset, "train", path=config.data)[0], config.train_size),
            _first(data.load(config.dataset, "test", path=config.data)[0], config.test_size))


def compiled_model(config, build):
    """`build()`, made and compiled (Adam, `compile_settings`) in `config`'s device scope.

    Returns (model, replicas); with several replicas, `config.batch_size` must
    split evenly over them.
    """
    scope, replicas = device_scope(config)
    jit_compile, steps_per_execution = compile_settings(config, replicas)
    with scope:
        model = build()
        model.compile(keras.optimizers.Adam(config.learning_rate), jit_compile=jit_compile,
                      steps_per_execution=steps_per_execution)
    if replicas > 1 and config.batch_size % replicas:
        raise ValueError(
            f"batch_size={config.batch_size} does not split evenly over {replicas} replicas."
        )
    return model, replicas


def test_dataset(x_test, replicas):
    """The test set in batches of 250 (fewer images: one batch), in order."""
    # Several replicas split every batch evenly only if it has the full size
    # (and keras.distribution splits batches of a known, fixed size only).
    return data.make_dataset(x_test, min(250, len(x_test)), shuffle=False,
                             drop_remainder=replicas > 1)


def diverged(history):
    """Whether any epoch of a `fit` history ended with a NaN or infinite loss."""
    return not all(math.isfinite(v) for v in history.history.get("loss", []))


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

    seeding.set_weights_seed(config.seed)  # The same initial weights on every worker.
    x_train, x_test = load_images(config)
    model, replicas = compiled_model(config, lambda: build_model(config, x_train.shape[1:]))
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)  # Outside any strategy scope.
    train = data.make_dataset(
        x_train, config.batch_size, seed=config.seed, epoch=epoch, drop_remainder=replicas > 1
    )
    test = test_dataset(x_test, replicas)
    history = model.fit(
        train,
        epochs=config.epochs,
        validation_data=test,
        shuffle=False,  # The dataset orders every epoch itself.
        callbacks=_callbacks(config, paths, epoch, x_test),
        verbose=config.verbose,
    )
    if diverged(history):
        raise FloatingPointError(
            f"Training diverged: the loss became NaN or infinite. {paths.last} holds the last "
            "epoch with a finite loss; try a lower --learning_rate."
        )

    metrics = model.evaluate(test, verbose=0, return_dict=True)
    # Written last: it marks the run finished.
    write_json_atomically(paths.metrics, {"test": metrics, "config": dataclasses.asdict(config),
                                          "wall_seconds": time.perf_counter() - start})
    return metrics


def _callbacks(config, paths, epoch, x_test):
    return loop_callbacks(config, paths, epoch) + model_callbacks(config, paths, x_test)


def loop_callbacks(config, paths, epoch, keep_backup=False):
    """The callbacks of the training loop itself: NaN stop, data order, resumable backup, steps.

    keep_backup: keep the backup when fit ends (Keras deletes it at any end of fit),
    for a run that a time limit may stop before its last epoch.
    """
    return [
        keras.callbacks.TerminateOnNaN(),
        callbacks.EpochSeed(epoch),
        # double_checkpoint: a kill while the backup is written leaves the previous one.
        keras.callbacks.BackupAndRestore(paths.backup, double_checkpoint=True,
                                         delete_checkpoint=not keep_backup),
        callbacks.StepScalars(os.path.join(paths.logs, "train"), every=config.log_every),
    ]


def model_callbacks(config, paths, x_test):
    """The callbacks that leave one model's files in its run folder (see the module docstring).

    A family runs them on each member (`family_training.MemberCallbacks`), so its
    members' folders are those of single runs.
    """
    return [
        keras.callbacks.CSVLogger(paths.history, append=True),
        LastCheckpoint(paths.last),
        keras.callbacks.ModelCheckpoint(
            paths.best, monitor="val_loss", save_best_only=True,
            initial_value_threshold=_best_validation_loss(paths.history),
        ),
        keras.callbacks.TensorBoard(paths.logs, update_freq="epoch"),
        callbacks.RobustnessImages(os.path.join(paths.logs, "images"), x_test[:8], seed=config.seed),
        callbacks.HParams(paths.logs, dataclasses.asdict(config),
                          trial_id=os.path.basename(os.path.normpath(paths.outdir))),
    ]
