r"""The paper's robustness figures (Figures 2-6) and prior samples (Appendix C).

    python examples/figures.py --schedule=cpu --data=../shared/data/mnist.npz \
        --root=runs --report_dir=docs/figures

Writes one PNG per figure into --report_dir, in the paper's layout
(`keras_svae.experiments.figures` lists them). The models come from
<root>/<schedule>/ and are trained there first if missing.
"""

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_svae.experiments import cli  # noqa: E402
from keras_svae.experiments import figures  # noqa: E402
from keras_svae.experiments import paper  # noqa: E402

cli.define_model_flags()
flags.DEFINE_list("sigmas", [f"{s:g}" for s in paper.SCALES], "Figure 5's sigma-VAEs.")
flags.DEFINE_integer("seed", 0, "Seed of the noise, the posterior draws and the prior samples.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    models = cli.trained_models(FLAGS)
    images, labels = models.images("test")
    paths = figures.write_all(models.load, images, labels, cli.report_dir(FLAGS),
                              seed=FLAGS.seed, sigmas=[float(s) for s in FLAGS.sigmas])
    print("\n".join(paths))


if __name__ == "__main__":
    app.run(main)
