r"""The KL power laws D_KL ~ sigma^-nu and D_KL ~ alpha^-nu (Tables 1-4).

    python examples/scaling_laws.py --noise=gaussian --schedule=cpu \
        --data=../shared/data/mnist.npz --root=runs --report_dir=docs/scaling_laws

Trains a sigma-VAE (--noise=gaussian) or an alpha-VAE (--noise=laplace) for
every scale in --scales into <root>/<schedule>/ (a rerun skips the trained
ones), and writes scaling_<noise>_<schedule>.{json,md,png} into --report_dir:
<D_KL>, <MSE>, <L> and D_KL / L per scale beside the paper's Tables 1-4, and
the fit of nu (`keras_svae.experiments.scaling_laws`).
"""

import os

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_svae.experiments import cli  # noqa: E402
from keras_svae.experiments import paper  # noqa: E402
from keras_svae.experiments import scaling_laws  # noqa: E402

cli.define_family_flags()
flags.DEFINE_enum("noise", "gaussian", list(scaling_laws.MODELS),
                  "gaussian: sigma-VAEs; laplace: alpha-VAEs.")
flags.DEFINE_list("scales", [f"{s:g}" for s in paper.SCALES], "The sigmas (alphas).")
flags.DEFINE_integer("seed", 0, "Random seed (the same for every scale).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    family, model = cli.family(FLAGS), scaling_laws.MODELS[FLAGS.noise]
    scales = [float(s) for s in FLAGS.scales]
    runs = [family.train(model, s, seed=FLAGS.seed) for s in scales]
    summary = scaling_laws.summarize(FLAGS.noise, scales, [run.metrics for run in runs],
                                     wall_seconds=[run.wall_seconds for run in runs])
    config = family.config(model, scales[0], seed=FLAGS.seed)
    summary["schedule"] = dict(name=FLAGS.schedule, **{
        k: getattr(config, k) for k in ("epochs", "batch_size", "learning_rate", "train_size",
                                        "test_size", "latent_dim", "seed")})
    stem = os.path.join(cli.report_dir(FLAGS), f"scaling_{FLAGS.noise}_{FLAGS.schedule}")
    print(scaling_laws.write_report(summary, stem))


if __name__ == "__main__":
    app.run(main)
