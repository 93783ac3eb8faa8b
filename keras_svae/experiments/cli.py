"""The command-line flags that the experiment examples share.

`examples/scaling_laws.py`, `figures.py`, `robustness.py`, `certify.py` and
`paper_on_gpu.py` select the same trained models (`runs.TrainedModels`): a
schedule, a root folder, and the settings of any model an example has to train
first. Each example calls `define_model_flags()` at import and
`trained_models(FLAGS)` / `report_dir(FLAGS)` in its `main`, so the same flags
give the same models everywhere.
"""

import os

from absl import flags

from keras_svae import training
from keras_svae.experiments import runs


# The `TrainConfig` settings that these flags give every model the examples train; the
# others come from the schedule (epochs, batch size, learning rate) or the example itself
# (the model, its scale, the seed).
TRAINING_FLAGS = ("dataset", "data", "train_size", "test_size", "epochs", "batch_size",
                  "latent_dim", "verbose", "steps_per_execution", "jit_compile")
# Where these flags' defaults are not TrainConfig's, and why.
_DEFAULTS = {
    # None: the schedule's (a --schedule names its epochs and batch size); set, an override.
    "epochs": (None, "Default: the --schedule's."),
    "batch_size": (None, "Default: the --schedule's."),
    # An experiment trains many models, often into a log file: a line per epoch each.
    "verbose": (2, "Default here: 2, a line per epoch."),
}


def define_model_flags(flag_values=flags.FLAGS):
    """Defines --schedule, --root, --report_dir and the `TRAINING_FLAGS` (`TrainConfig`'s)."""
    define = dict(flag_values=flag_values)
    flags.DEFINE_enum("schedule", "cpu", list(runs.SCHEDULES), "Training schedule.", **define)
    flags.DEFINE_string("root", "runs", "Trained models live in <root>/<schedule>/.", **define)
    flags.DEFINE_string("report_dir", None,
                        "Where the tables, JSON and plots go (default: the models' folder).",
                        **define)
    training.define_flags(flag_values, TRAINING_FLAGS, _DEFAULTS)


def training_overrides(flag_values):
    """The `TrainConfig` settings these flags give every model they select (an unset
    --epochs or --batch_size leaves the schedule's)."""
    return {name: flag_values[name].value for name in TRAINING_FLAGS
            if flag_values[name].value is not None}


def trained_models(flag_values):
    """The `runs.TrainedModels` these flags select."""
    return runs.TrainedModels(flag_values.root, flag_values.schedule,
                              **training_overrides(flag_values))


def report_dir(flag_values):
    """--report_dir (default: the models' folder), created."""
    path = flag_values.report_dir or os.path.join(flag_values.root, flag_values.schedule)
    os.makedirs(path, exist_ok=True)
    return path
