r"""The KL power laws D_KL ~ sigma^-nu and D_KL ~ alpha^-nu (Tables 1-4).

    python examples/scaling_laws.py --noise=gaussian --schedule=cpu \
        --data=../shared/data/mnist.npz --root=runs --report_dir=docs/scaling_laws

Trains a sigma-VAE (--noise=gaussian) or an alpha-VAE (--noise=laplace) for
every scale in --scales into <root>/<schedule>/ (a rerun skips the trained
ones), and writes scaling_<noise>_<schedule>.{json,md,png} into --report_dir:
<D_KL>, <MSE>, <L> and D_KL / L per scale beside the paper's Tables 1-4, and
the fit of nu (`keras_svae.experiments.scaling_laws`).

--family trains the whole sweep as one `SigmaVAEFamily` (one program, one
compile, one data pipeline) into the same run folders; each member starts
from the weights, batches and draws of its own sequential run.
--time_limit_minutes (with --family) stops after the last epoch that fits;
the report then says how many epochs were done, and a rerun carries on.
"""

import os

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_svae import family_training  # noqa: E402
from keras_svae import training  # noqa: E402
from keras_svae.experiments import cli  # noqa: E402
from keras_svae.experiments import paper  # noqa: E402
from keras_svae.experiments import scaling_laws  # noqa: E402

cli.define_model_flags()
flags.DEFINE_enum("noise", "gaussian", list(scaling_laws.NOISES),
                  "gaussian: sigma-VAEs; laplace: alpha-VAEs.")
flags.DEFINE_list("scales", [f"{s:g}" for s in paper.SCALES], "The sigmas (alphas).")
training.define_flags(flags.FLAGS, ("seed",), {"seed": (0, "The same for every scale.")})
flags.DEFINE_bool("family", False, "Train the sweep as one SigmaVAEFamily instead of one model "
                  "after another.")
flags.DEFINE_enum("data_order", "auto", list(family_training.DATA_ORDERS), "With --family: every "
                  "member sees the same batches (shared), or each its own seed's order (own); "
                  "auto: shared when all seeds are equal.")
flags.DEFINE_float("time_limit_minutes", 0, "With --family: stop after the last epoch that "
                   "fits in this many minutes (0: no limit); a rerun carries on.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    trained, model = cli.trained_models(FLAGS), training.model_of(FLAGS.noise)
    scales = [float(s) for s in FLAGS.scales]
    if FLAGS.time_limit_minutes and not FLAGS.family:
        raise app.UsageError("--time_limit_minutes needs --family.")
    if FLAGS.family:
        runs = trained.train_family([(model, s) for s in scales],
                                   time_limit=60 * FLAGS.time_limit_minutes or None,
                                   data_order=FLAGS.data_order, seed=FLAGS.seed)
    else:
        runs = [trained.train(model, s, seed=FLAGS.seed) for s in scales]
    summary = scaling_laws.summarize(FLAGS.noise, scales, [run.metrics for run in runs],
                                     wall_seconds=[run.wall_seconds for run in runs])
    config = trained.config(model, scales[0], seed=FLAGS.seed)
    summary["schedule"] = scaling_laws.schedule_record(FLAGS.schedule, config, runs,
                                                       trained_as=f"as one family of {len(scales)} members" if FLAGS.family
                                                       else "one model after another")
    stem = os.path.join(cli.report_dir(FLAGS), f"scaling_{FLAGS.noise}_{FLAGS.schedule}")
    print(scaling_laws.write_report(summary, stem))


if __name__ == "__main__":
    app.run(main)
