"""The command-line flags that the experiment examples share.

`examples/scaling_laws.py`, `figures.py` and `robustness.py` select the same
family of trained models (`runs.Family`): a schedule, a root folder, and the
settings of any model an example has to train first. Each example calls
`define_family_flags()` at import and `family(FLAGS)` / `report_dir(FLAGS)` in
its `main`, so the same flags give the same models everywhere.
"""

import os

from absl import flags

from keras_svae import training
from keras_svae.experiments import runs


def define_family_flags(flag_values=flags.FLAGS):
    """Defines --schedule, --root, --report_dir, --data and the training overrides."""
    define = dict(flag_values=flag_values)
    flags.DEFINE_enum("schedule", "cpu", list(runs.SCHEDULES), "Training schedule.", **define)
    flags.DEFINE_string("root", "runs", "Trained models live in <root>/<schedule>/.", **define)
    flags.DEFINE_string("report_dir", None,
                        "Where the tables, JSON and plots go (default: the models' folder).",
                        **define)
    flags.DEFINE_string("data", None,
                        "Keras-layout mnist.npz; default $KERAS_SVAE_MNIST, then tfds.", **define)
    flags.DEFINE_integer("train_size", 0, "Train on the first N images only (0: all).", **define)
    flags.DEFINE_integer("test_size", 0, "Evaluate on the first N test images only (0: all).",
                         **define)
    flags.DEFINE_integer("epochs", None, "Override the schedule's epochs.", **define)
    flags.DEFINE_integer("batch_size", None, "Override the schedule's batch size.", **define)
    flags.DEFINE_integer("latent_dim", 100, "Dimension of z.", **define)
    flags.DEFINE_integer("verbose", 2, "Keras verbosity while training (2: a line per epoch).",
                         **define)
    # Speed only (what a run learns does not change); the same flags as examples/train.py.
    fields = training.TrainConfig.__dataclass_fields__
    flags.DEFINE_integer("steps_per_execution", 0, fields["steps_per_execution"].metadata["help"],
                         **define)
    flags.DEFINE_enum("jit_compile", "fastest", list(training.JIT_COMPILE),
                      fields["jit_compile"].metadata["help"], **define)


def training_overrides(flag_values):
    """The `TrainConfig` settings these flags give every model of the family."""
    overrides = {name: flag_values[name].value
                 for name in ("data", "train_size", "test_size", "latent_dim", "verbose",
                              "steps_per_execution", "jit_compile")}
    overrides.update({name: flag_values[name].value for name in ("epochs", "batch_size")
                      if flag_values[name].value is not None})
    return overrides


def family(flag_values):
    """The `runs.Family` these flags select."""
    return runs.Family(flag_values.root, flag_values.schedule, **training_overrides(flag_values))


def report_dir(flag_values):
    """--report_dir (default: the models' folder), created."""
    path = flag_values.report_dir or os.path.join(flag_values.root, flag_values.schedule)
    os.makedirs(path, exist_ok=True)
    return path
