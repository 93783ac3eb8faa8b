"""Callbacks: what a run shows in TensorBoard, and the epoch-seeded data order.

Epoch scalars come from `keras.callbacks.TensorBoard(update_freq="epoch")`;
these add

* `StepScalars`: the training metrics every N steps. (Keras's own
  `update_freq=N` wraps the whole fit in `record_if(step % N == 0)`, which
  also silences every epoch-end summary whenever an epoch ends off that grid.)
* `RobustnessImages`: each epoch, a grid per noise type of fixed test digits:
  clean, noisy (Gaussian sigma, Laplace alpha, salt-and-pepper p), and the
  model's output for the noisy input: x_hat(z), z ~ q(z|y) for the VAEs
  (Figures 2-6), x_hat(y) for DEEN. One watches robustness develop.
  For the VAEs also samples x_hat(z), z ~ N(0, I) (Appendix C).
* `HParams`: the run's hyperparameters for TensorBoard's hparams plugin, so
  the runs of a sweep compare in one table.
* `EpochSeed`: tells the input pipeline which epoch it is, so that the data
  order of epoch e is a function of (seed, e) and a resumed run repeats it.

Summaries are written with `tf.summary` (TensorFlow is a dependency on every
backend); the models' outputs are converted to NumPy first.
"""

import numpy as np
import tensorflow as tf
from keras import callbacks
from keras import ops
from tensorboard.plugins.hparams import api as hparams_api

from keras_svae import corruption
from keras_svae import images as grids  # `images` names the data here.
from keras_svae import seeding
from keras_svae import vae

DEFAULT_NOISES = (("gaussian", 0.5), ("gaussian", 0.9), ("laplace", 0.4), ("salt_and_pepper", 0.5))


def image_grid(rows):
    """Tiles rows of images (each (n, h, w, c) in [0, 1]) into one (1, H, W, c) summary image."""
    return grids.tile(np.stack([np.asarray(r) for r in rows]))[None]


class StepScalars(callbacks.Callback):
    """Writes the running training metrics every `every` optimizer steps.

    Args:
        logdir: str, e.g. the TensorBoard callback's `log_dir` + "/train".
        every: int > 0, steps between writes.
    """

    def __init__(self, logdir, every=100):
        super().__init__()
        self.logdir = logdir
        self.every = int(every)
        self._writer = None
        self._epoch_start = 0
        self._step = 0

    def on_epoch_begin(self, epoch, logs=None):
        # One device-to-host read per epoch (a resumed run starts past 0);
        # within the epoch, `batch` counts the steps.
        self._epoch_start = self._step = int(ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution = k, Keras calls this once per k steps,
        # `batch` being the last step's index: write when a multiple of
        # `every` was crossed.
        step = self._epoch_start + int(batch) + 1
        crossed = step // self.every > self._step // self.every
        self._step = step
        if not logs or not crossed:
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.logdir)
        with self._writer.as_default(step=step), tf.summary.record_if(True):
            for name, value in logs.items():
                tf.summary.scalar(f"step_{name}", float(value))

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class RobustnessImages(callbacks.Callback):
    """Writes clean / noisy / output grids and prior samples every epoch.

    Args:
        logdir: str, where to write (e.g. the TensorBoard callback's
            `log_dir` + "/images").
        images: (n, h, w, c) fixed test images in [0, 1].
        noises: sequence of (kind, level) with kind "gaussian", "laplace" or
            "salt_and_pepper". Defaults to `DEFAULT_NOISES`.
        num_samples: prior samples per epoch for the VAEs (0: none).
        seed: int, fixes the noise and the posterior draws across epochs.
    """

    def __init__(self, logdir, images, noises=DEFAULT_NOISES, num_samples=16, seed=0):
        super().__init__()
        self.logdir = logdir
        self.images = np.asarray(images, np.float32)
        self.noises = tuple(noises)
        self.num_samples = num_samples
        # Fixed int seeds: every epoch sees the same noisy inputs and the same draws.
        self.draws_seed = seeding.derive(seed, seeding.TENSORBOARD, seeding.DRAWS)
        self.samples_seed = seeding.derive(seed, seeding.TENSORBOARD, seeding.SAMPLES)
        self.noisy = {
            f"{kind}_{level}": np.asarray(corruption.apply(
                kind, self.images, level, seed=seeding.derive(seed, seeding.TENSORBOARD,
                                                              seeding.NOISE, j)))
            for j, (kind, level) in enumerate(self.noises)
        }
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.logdir)
        with self._writer.as_default(step=epoch), tf.summary.record_if(True):
            for name, noisy in self.noisy.items():
                output = ops.convert_to_numpy(self.model.estimate(noisy, seed=self.draws_seed))
                grid = image_grid([self.images, noisy, output])
                tf.summary.image(f"robustness/{name}", grid,
                                 description="rows: clean x, noisy y, the model's estimate of x")
            if self.num_samples and isinstance(self.model, vae.SigmaVAE):  # DEEN cannot sample.
                samples = ops.convert_to_numpy(self.model.sample(self.num_samples, seed=self.samples_seed))
                side = int(np.ceil(np.sqrt(self.num_samples)))
                padded = np.zeros((side * side,) + samples.shape[1:], np.float32)
                padded[: len(samples)] = samples
                tf.summary.image("samples/prior", image_grid(np.split(padded, side)))
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class HParams(callbacks.Callback):
    """Records the run's hyperparameters for TensorBoard's hparams plugin.

    Args:
        logdir: str, the run's log directory (the TensorBoard callback's).
        hparams: dict of name -> bool, int, float or str.
        trial_id: str or None, the run's name in the hparams table.
    """

    def __init__(self, logdir, hparams, trial_id=None):
        super().__init__()
        self.logdir = logdir
        self.hparams = {k: v for k, v in hparams.items() if isinstance(v, (bool, int, float, str))}
        self.trial_id = trial_id

    def on_train_begin(self, logs=None):
        writer = tf.summary.create_file_writer(self.logdir)
        with writer.as_default(), tf.summary.record_if(True):
            hparams_api.hparams(self.hparams, trial_id=self.trial_id)
        writer.close()


class EpochSeed(callbacks.Callback):
    """Sets a `tf.Variable` to the epoch about to run (see `data.make_dataset`)."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)
