"""The flags that examples/scaling_laws.py, figures.py and robustness.py share.

They select the family of trained models (`keras_svae.experiments`): which
schedule, where the runs live, and the settings of any model an example has
to train first. Every example passes the same settings for the same
models, so one example's runs serve the others.
"""

import os

import keras
from absl import flags

from keras_svae import experiments

flags.DEFINE_enum("schedule", "cpu", list(experiments.SCHEDULES), "Training schedule.")
flags.DEFINE_string("root", "runs", "Trained models live in <root>/<schedule>/.")
flags.DEFINE_string("report_dir", None, "Where the tables, JSON and plots go (default: the runs).")
flags.DEFINE_string("data", None, "Keras-layout mnist.npz; default $KERAS_SVAE_MNIST, then tfds.")
flags.DEFINE_integer("train_size", 0, "Train on the first N images only (0: all).")
flags.DEFINE_integer("test_size", 0, "Evaluate on the first N test images only (0: all).")
flags.DEFINE_integer("epochs", None, "Override the schedule's epochs.")
flags.DEFINE_integer("batch_size", None, "Override the schedule's batch size.")
flags.DEFINE_integer("latent_dim", 100, "Dimension of z.")
flags.DEFINE_integer("verbose", 2, "Keras verbosity while training (2: one line per epoch).")
FLAGS = flags.FLAGS


def model_root():
    """<root>/<schedule>: the folder of the trained models."""
    return os.path.join(FLAGS.root, FLAGS.schedule)


def report_dir():
    """--report_dir (default: the models' folder), created."""
    path = FLAGS.report_dir or model_root()
    os.makedirs(path, exist_ok=True)
    return path


def training_overrides(**extra):
    """The `experiments.config_for` overrides these flags set, plus `extra`."""
    overrides = dict(data=FLAGS.data, train_size=FLAGS.train_size, test_size=FLAGS.test_size,
                     latent_dim=FLAGS.latent_dim, verbose=FLAGS.verbose, **extra)
    overrides.update({k: FLAGS[k].value for k in ("epochs", "batch_size")
                      if FLAGS[k].value is not None})
    return overrides


def train(model, scale=None, **extra):
    """`experiments.train` for one model of the family, with these flags' settings."""
    return experiments.train(model_root(), model, scale, FLAGS.schedule,
                             **training_overrides(**extra))


def trained(model, scale=None):
    """One model of the family, loaded; trained first if missing."""
    return keras.saving.load_model(train(model, scale).model_path)
