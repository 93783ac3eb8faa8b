r"""Remark 3's universality question: nu of D_KL ~ sigma^-nu per network.

    python examples/universality.py --schedule=cpu --data=../shared/data/mnist.npz \
        --root=runs --report_dir=docs/universality

For each of --variants (`keras_svae.experiments.universality.VARIANTS`: the paper's
ConvNet with two seeds, an MLP encoder, the stride-1 network, latent size 16), trains the
sigma-VAEs at --sigmas as one `SigmaVAEFamily` (a rerun finds them trained): the paper's
network into <root>/<schedule>/, the models the other experiments share, and every other
variant into <root>/universality/<variant>/<schedule>/. Then measures each model's active
units on the test images, fits nu per variant with its split into nu_AU + nu_per_unit, and
writes <report_dir>/universality.{json,md,png}. The variants of an earlier report there
that this call does not measure keep their rows (--nokeep_reported drops them), so a
variant can be added where the others' models no longer are.
"""

import os

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
import keras  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_svae import training  # noqa: E402
from keras_svae.experiments import cli  # noqa: E402
from keras_svae.experiments import report_files  # noqa: E402
from keras_svae.experiments import runs  # noqa: E402
from keras_svae.experiments import universality  # noqa: E402

cli.define_model_flags()
flags.DEFINE_list("variants", list(universality.VARIANTS), "The networks to compare.")
flags.DEFINE_list("sigmas", [f"{s:g}" for s in universality.SIGMAS], "The sigmas of each sweep.")
flags.DEFINE_bool("keep_reported", True, "Keep, from the report already in --report_dir, the "
                  "variants this call does not measure (a machine that no longer holds their "
                  "models adds a variant); --nokeep_reported writes these variants alone.")
flags.DEFINE_bool("family", True, "Train each variant's sweep as one SigmaVAEFamily (False: one "
                  "model after another; the same models).")
FLAGS = flags.FLAGS


def check_variants():
    """A flag given on the command line that a variant sets otherwise is refused, not lost."""
    for variant in FLAGS.variants:
        for name, value in universality.VARIANTS.get(variant, {}).items():
            if name in FLAGS and FLAGS[name].present and FLAGS[name].value != value:
                raise app.UsageError(f"--{name}={FLAGS[name].value} conflicts with variant "
                                     f"{variant}, which sets {name}={value}.")


def main(argv):
    del argv
    check_variants()
    sigmas = [float(s) for s in FLAGS.sigmas]
    overrides = cli.training_overrides(FLAGS)
    # What the variants share; an earlier report's variants are checked against it first.
    shared = runs.config_for("sigma_vae", sigmas[0], FLAGS.schedule, **overrides)
    stem = os.path.join(cli.report_dir(FLAGS), "universality")
    earlier, kept = report_files.read(stem) if FLAGS.keep_reported else None, {}
    if earlier:
        try:
            kept = universality.kept_rows(earlier, FLAGS.variants, shared, sigmas,
                                          len(training.load_images(shared)[1]))
        except ValueError as error:
            raise app.UsageError(str(error)) from error
    rows = {}
    for variant in FLAGS.variants:
        models = universality.trained_models(FLAGS.root, variant, FLAGS.schedule, **overrides)
        # The test images that each model's test metrics were measured on.
        images = training.load_images(models.config("sigma_vae", sigmas[0]))[1]
        trained = universality.sweep(models, sigmas, FLAGS.family)
        rows[variant] = [universality.measure(keras.saving.load_model(run.model_path), run, images)
                         for run in trained]
    summary = universality.summarize({**kept, **rows}, shared)
    print(universality.write_report(summary, stem))


if __name__ == "__main__":
    app.run(main)
