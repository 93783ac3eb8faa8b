"""The experiments' schedules and the shared folders of their trained models.

Every experiment of Section 5 (the scaling laws, the figures, the robustness
curves) uses the same trained models: sigma-VAEs and alpha-VAEs
over a grid of scales, the vanilla VAE, and DEEN. They are trained once, by
`train`, into one folder per model under a root folder per schedule,

    <root>/<schedule>/sigma_vae_0.9, .../alpha_vae_0.4, .../vanilla_vae,
    .../deen_0.6, ...

so that the scaling laws, the figures and the robustness curves share them,
and a rerun skips what is trained already (`training.train_and_evaluate`
returns a finished run's metrics). `TrainedModels` is that set of models for one
root, schedule and settings: `models.load("sigma_vae", 0.9)` trains the model
if it is missing and returns it.

Schedules:

* "paper": Section 5, Adam at 1e-4, batch size 16, 100 epochs.
* "cpu": the same network trained in about 5 minutes per model on a
  2-core CPU, so that the 9-point sigma sweep fits in an hour: batch size
  128 (8x the paper's, which is what makes a CPU step efficient), the
  learning rate scaled with it to 1e-3 (Adam's usual default; 8 x 1e-4 =
  8e-4 rounded), and 5 epochs (2,345 steps).
"""

import dataclasses
import hashlib
import json
import os

import keras

from keras_svae import data as mnist  # `data` names the --data file here.
from keras_svae import family_training
from keras_svae import training
from keras_svae.experiments import classifier
from keras_svae.experiments import paper

SCHEDULES = {
    "paper": dict(epochs=100, batch_size=16, learning_rate=1e-4),
    "cpu": dict(epochs=5, batch_size=128, learning_rate=1e-3),
}

SCALES = paper.SCALES

_CONFIG = "experiment_config.json"  # Written before training starts.


def run_name(model, scale=None):
    """The folder name of one trained model, e.g. "sigma_vae_0.9" or "vanilla_vae"."""
    if training.scale_field(model) is None:
        return model
    if scale is None:
        raise ValueError(f"A {model} needs a scale (its sigma or alpha).")
    return f"{model}_{float(scale):g}"


def config_for(model, scale=None, schedule="cpu", **overrides):
    """The `training.TrainConfig` of one model under a named schedule.

    Args:
        model: "sigma_vae", "alpha_vae", "vanilla_vae" or "deen".
        scale: sigma (sigma-VAE, DEEN) or alpha (alpha-VAE); None for the
            vanilla VAE.
        schedule: a key of `SCHEDULES`.
        **overrides: any other `TrainConfig` field (e.g. `train_size` and
            `epochs` for a quick check, `data`, `seed`).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {schedule!r}.")
    run_name(model, scale)  # Validates the pair.
    fields = dict(SCHEDULES[schedule], model=model)
    scale_field = training.scale_field(model)
    if scale_field:
        fields[scale_field] = float(scale)
    fields.update(overrides)
    return training.TrainConfig(**fields)


@dataclasses.dataclass
class TrainedRun:
    """A finished run: its folder, test metrics and the seconds training took."""

    outdir: str
    metrics: dict
    wall_seconds: float
    epochs_done: int = None  # Recorded by runs trained as a family (fewer: a time-limited one).

    @property
    def model_path(self):
        return training.run_paths(self.outdir).last


# Config fields that do not change what a run learns (the speed settings change the
# floating-point order of a few sums at most).
_PRESENTATION = ("data", "verbose", "log_every", "steps_per_execution", "jit_compile")


def differences(stored, config):
    """{field: (stored, wanted)} where a stored run's config (a dict) differs from `config`
    in what the run learns (`_PRESENTATION`'s fields aside)."""
    wanted = dataclasses.asdict(config)
    # A field added since a run was stored has its default there (e.g. `dataset`: "mnist").
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    return {k: (stored.get(k, defaults[k]), v) for k, v in wanted.items()
            if k not in _PRESENTATION and stored.get(k, defaults[k]) != v}


def _claim(paths, config):
    """Checks that a run folder holds nothing made with other settings; records `config`.

    A run folder that holds a run (finished or interrupted) made with other
    settings raises instead of being reused: a report must never mix models
    of different schedules.
    """
    for saved in (paths.metrics, os.path.join(paths.outdir, _CONFIG)):
        if os.path.exists(saved):
            with open(saved) as f:
                changed = differences(json.load(f)["config"], config)
            if changed:
                raise ValueError(
                    f"{paths.outdir} holds a run with other settings (stored, wanted): "
                    f"{changed}. Use another root folder or remove it."
                )
    os.makedirs(paths.outdir, exist_ok=True)
    with open(os.path.join(paths.outdir, _CONFIG), "w") as f:
        json.dump({"config": dataclasses.asdict(config)}, f, indent=2)


def _trained_run(paths, report_path=None):
    with open(report_path or paths.metrics) as f:
        report = json.load(f)
    return TrainedRun(paths.outdir, report["test"], report.get("wall_seconds"),
                      report.get("epochs_done"))


def train(root, model, scale=None, schedule="cpu", **overrides):
    """Trains one model (or finds it trained); returns a `TrainedRun` (see `_claim`)."""
    config = config_for(model, scale, schedule, **overrides)
    paths = training.run_paths(os.path.join(root, run_name(model, scale)))
    _claim(paths, config)
    if os.path.exists(family_training.partial_metrics_path(paths)):
        raise ValueError(f"{paths.outdir} is part of a family run that has not finished; rerun "
                         "that command (it resumes) instead of training this model alone.")
    training.train_and_evaluate(config, paths.outdir)
    return _trained_run(paths)


def train_family(root, members, schedule="cpu", time_limit=None, data_order="auto",
                 retrain=False, **overrides):
    """Trains several models as one `SigmaVAEFamily`; returns a `TrainedRun` per member.

    Each member lands in its usual run folder (<root>/<run_name>), exactly as
    `train` would leave it, so everything that reads trained runs reads these.
    Members already finished are not trained again; the others train as one
    family whose own state (resumable backup, history, logs) lives in
    <root>/families/<their run names>.

    Args:
        root: the folder of the runs (<root of the experiments>/<schedule>).
        members: (model, scale) pairs, e.g. [("sigma_vae", 0.1), ("alpha_vae", 0.5)].
        schedule: a key of `SCHEDULES`.
        time_limit: seconds for this call's training (None: every epoch). A member
            cut short has metrics_partial.json instead of metrics.json and
            `TrainedRun.epochs_done` < its epochs; rerunning carries on.
        data_order: `family_training.DATA_ORDERS` ("own": each member its seed's order).
        retrain: train every member anew, finished ones too (their folders are kept
            beside, as `<run folder>.previous-<time>`).
        **overrides: `TrainConfig` fields shared by every member (e.g. `seed`).
    """
    configs = [config_for(model, scale, schedule, **overrides) for model, scale in members]
    all_paths = [training.run_paths(os.path.join(root, run_name(m, s))) for m, s in members]
    for paths, config in zip(all_paths, configs):
        _claim(paths, config)
    todo = [i for i, paths in enumerate(all_paths)
            if retrain or not os.path.exists(paths.metrics)]
    if todo:
        result = family_training.train_family(
            [configs[i] for i in todo], [all_paths[i].outdir for i in todo],
            _family_folder(root, [run_name(*members[i]) for i in todo],
                           [configs[i] for i in todo], data_order), time_limit=time_limit,
            data_order=data_order, retrain=retrain)
        if not result["finished"]:
            return [_trained_run(p) if i not in todo
                    else _trained_run(p, family_training.partial_metrics_path(p))
                    for i, p in enumerate(all_paths)]
    return [_trained_run(paths) for paths in all_paths]


# TrainConfig fields added after family folders were first named: at their default they
# stay out of the hash, so that a family interrupted before they existed resumes.
_ADDED_FIELDS = ("encoder",)


def _family_folder(root, names, configs, data_order="auto"):
    """<root>/families/<K>_members_<hash of the names and settings>, members.json naming them.

    The settings are in the hash so that a family's backup is never restored into a
    family with other settings.
    """
    settings = [{k: v for k, v in dataclasses.asdict(c).items() if k not in _PRESENTATION
                 and not (k in _ADDED_FIELDS and v == getattr(training.TrainConfig, k))}
                for c in configs]
    key = json.dumps([names, settings, data_order], sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    folder = os.path.join(root, "families", f"{len(names)}_members_{digest}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "members.json"), "w") as f:
        json.dump(names, f)
    return folder


class TrainedModels:
    """The trained models of one schedule under `root`, trained where missing.

    Models live in <root>/<schedule>/<run_name>; the classifier in <root>.
    Every model is trained with the same `overrides` (e.g. `data`,
    `train_size`, `epochs` for a quick check), so one example's runs serve
    the others.

    Example:

    >>> models = TrainedModels("runs", "cpu", data="mnist.npz")
    >>> model = models.load("sigma_vae", 0.9)  # doctest: +SKIP
    """

    def __init__(self, root, schedule="cpu", **overrides):
        config_for("vanilla_vae", schedule=schedule, **overrides)  # Validates them now.
        self.root, self.schedule, self.overrides = root, schedule, overrides
        self._loaded = {}

    @property
    def folder(self):
        """<root>/<schedule>: the folder of the trained models."""
        return os.path.join(self.root, self.schedule)

    def config(self, model, scale=None, **extra):
        """The `TrainConfig` that `model` at `scale` is trained with here."""
        return config_for(model, scale, self.schedule, **{**self.overrides, **extra})

    def train(self, model, scale=None, **extra):
        """`train` one of these models (or find it trained); a `TrainedRun`."""
        return train(self.folder, model, scale, self.schedule, **{**self.overrides, **extra})

    def train_family(self, members, time_limit=None, data_order="auto", **extra):
        """`train_family` (one `SigmaVAEFamily`) for these (model, scale) pairs: one
        `TrainedRun` each."""
        return train_family(self.folder, members, self.schedule, time_limit, data_order,
                            **{**self.overrides, **extra})

    def load(self, model, scale=None):
        """One of these models, loaded once; trained first if missing."""
        if (model, scale) not in self._loaded:
            self._loaded[model, scale] = keras.saving.load_model(self.train(model, scale).model_path)
        return self._loaded[model, scale]

    @property
    def dataset(self):
        """The name of these models' dataset (`data.load`; "mnist" unless overridden)."""
        return self.overrides.get("dataset", "mnist")

    def images(self, split="test"):
        """(images, labels) of `split` of these models' dataset (its --data file, if given)."""
        return mnist.load(self.dataset, split, path=self.overrides.get("data"))

    def classifier(self, epochs=3, seed=0, noise_sigma=0.0, architecture="convnet"):
        """The classifier (`trained_classifier`) on these models' data."""
        return trained_classifier(self.root, self.overrides.get("data"), epochs=epochs,
                                  train_size=self.overrides.get("train_size", 0), seed=seed,
                                  noise_sigma=noise_sigma, architecture=architecture,
                                  dataset=self.dataset)


def classifier_name(epochs=3, train_size=0, seed=0, noise_sigma=0.0, architecture="convnet",
                    dataset="mnist"):
    """The file name (without .keras) that holds a classifier's settings.

    E.g. classifier_3epochs_seed0, classifier_3epochs_1000images_seed0, or, with Gaussian
    augmentation at noise_sigma (Cohen et al.'s base classifier) and the LeNet,
    classifier_lenet_noise0.7_20epochs_seed0. The ConvNet, the first architecture,
    goes unnamed: its files keep the names they had before there was a choice, and so
    does MNIST (another dataset is named first: classifier_cifar10_3epochs_seed0).
    (A fine-tuned classifier's file is named by `certification.finetuned_name`.)
    """
    arch = ("" if dataset == "mnist" else f"_{dataset}") + (
        "" if architecture == "convnet" else f"_{architecture}")
    images = f"_{train_size}images" if train_size else ""
    noise = f"_noise{float(noise_sigma):g}" if noise_sigma else ""
    return f"classifier{arch}{noise}_{epochs}epochs{images}_seed{seed}"


def trained_classifier(root, data_path=None, epochs=3, train_size=0, seed=0, noise_sigma=0.0,
                       architecture="convnet", dataset="mnist"):
    """The classifier of `dataset`, trained if absent, at <root>/`classifier_name(...)`.keras."""
    classifier.check_architecture(architecture)  # Before a name is made of it.
    path = os.path.join(root, classifier_name(epochs, train_size, seed, noise_sigma,
                                              architecture, dataset) + ".keras")
    if os.path.exists(path):
        return keras.saving.load_model(path)
    x_train, y_train = mnist.load(dataset, "train", path=data_path)
    n = train_size or len(x_train)
    model = classifier.train(x_train[:n], y_train[:n], epochs=epochs, seed=seed,
                             noise_sigma=noise_sigma, architecture=architecture)
    training.save_atomically(model, path)
    return model
