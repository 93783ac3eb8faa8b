r"""log p(x), the ELBO, active units, the KL spectrum and latent panels of trained VAEs.

    python examples/evaluate.py --root=runs --schedule=cpu \
        --models=sigma_vae:0.1,sigma_vae:0.9,alpha_vae:0.9,vanilla_vae \
        --data=../shared/data/mnist.npz --report_dir=docs/evaluation

Each model is a run folder's last.keras: <root>/<schedule>/<run name> for --models, or
the folders of --runs. Writes <report_dir>/evaluation.{md,json} (log p(x) with k = --k
importance samples on the first --images test images, the ELBO beside it, in nats and
bits/dim, AU and the KL spectrum, with their plot evaluation.png) and, per model,
<run name>_interpolation.png and <run name>_traversals.png
(`keras_svae.experiments.evaluation_report`). A model already in the report's JSON with the
same --k, --images, --seed and model file is not measured again, so models can be added to a
report one command at a time.
"""

import os

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
import keras  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_svae import data  # noqa: E402
from keras_svae import training  # noqa: E402
from keras_svae.experiments import evaluation_report  # noqa: E402
from keras_svae.experiments import report_files  # noqa: E402
from keras_svae.experiments import runs  # noqa: E402

flags.DEFINE_string("root", "runs", "Trained models live in <root>/<schedule>/.")
flags.DEFINE_enum("schedule", "cpu", list(runs.SCHEDULES), "The schedule of --models.")
flags.DEFINE_list("models", [], "model:scale pairs (vanilla_vae without a scale).")
flags.DEFINE_list("runs", [], "Run folders (each with last.keras), instead of or beside --models.")
training.define_flags(flags.FLAGS, ("data",))  # TrainConfig's own --data.
flags.DEFINE_integer("k", 1000, "Importance samples per image.")
flags.DEFINE_integer("images", 1000, "The first N test images.")
flags.DEFINE_integer("seed", 0, "Seed of the importance samples.")
flags.DEFINE_string("report_dir", None, "Where the report and panels go.", required=True)
FLAGS = flags.FLAGS


def report_name(folder):
    """A run's name in the report: its folder's name (<root>/<schedule>/<run name>)."""
    return os.path.basename(os.path.normpath(folder))


def folders():
    """The run folders that --models and --runs name."""
    chosen = []
    for pair in FLAGS.models:
        model, _, scale = pair.partition(":")
        name = runs.run_name(model, float(scale) if scale else None)
        chosen.append(os.path.join(FLAGS.root, FLAGS.schedule, name))
    chosen += list(FLAGS.runs)
    names = [report_name(folder) for folder in chosen]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:  # The report is keyed by run name: one would overwrite the other.
        raise app.UsageError(f"Two chosen runs share the name {', '.join(twice)} (for instance "
                             "the same model on two schedules): evaluate them into separate "
                             "--report_dir folders.")
    return chosen


def main(argv):
    del argv
    chosen = folders()
    if not chosen:
        raise app.UsageError("Name the models: --models and/or --runs.")
    stem = os.path.join(FLAGS.report_dir, "evaluation")
    earlier = report_files.read(stem) or {}
    for folder in chosen:  # A name the report holds for another model is never replaced.
        name, path = report_name(folder), training.run_paths(folder).last
        if not os.path.exists(path):
            raise app.UsageError(f"No trained model at {path}.")
        if earlier.get(name, {}).get("model_file", path) != path:
            raise app.UsageError(f"{stem}.json holds {name} of {earlier[name]['model_file']}, "
                                 f"not of {path}: evaluate it into another --report_dir.")
    images = data.load_mnist("test", path=FLAGS.data)[0][: FLAGS.images]
    os.makedirs(FLAGS.report_dir, exist_ok=True)
    results, table = {}, None
    for folder in chosen:
        path, name = training.run_paths(folder).last, report_name(folder)
        measured = dict(k=FLAGS.k, images=len(images), seed=FLAGS.seed, model_file=path,
                        model_mtime=os.path.getmtime(path))
        if all(earlier.get(name, {}).get(key) == value for key, value in measured.items()):
            results[name] = earlier[name]
            continue
        model = keras.saving.load_model(path)
        results[name] = {**evaluation_report.evaluate(model, images, FLAGS.k, FLAGS.seed),
                         **measured}
        evaluation_report.write_panels(model, images, os.path.join(FLAGS.report_dir, name), name)
        # Written as each model is measured: a later model's failure loses no measurement.
        table = evaluation_report.write_report({**earlier, **results}, stem)
    # Models measured before and not chosen now stay in the report (written here when no
    # model needed measuring).
    print(table or evaluation_report.write_report({**earlier, **results}, stem))


if __name__ == "__main__":
    app.run(main)
