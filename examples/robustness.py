r"""Robustness curves: classifier accuracy and squared error under real noise.

    python examples/robustness.py --schedule=cpu --data=../shared/data/mnist.npz \
        --root=runs --report_dir=docs/robustness

Corrupts the MNIST test images with each noise of --noises at the levels of
`robustness.LEVELS` and measures, for the raw y and every model of
`robustness.ESTIMATORS` (DEEN, sigma-VAEs, the alpha-VAE, the vanilla VAE),
the accuracy of a clean-MNIST classifier on the estimate and the mean
||x - x_hat||^2. Models come from <root>/<schedule>/ and the classifier from
<root>/classifier_<settings>.keras, each trained there first if missing.
Writes robustness_<noise>.{md,json,png} to --report_dir.
"""

import os
import time

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_svae.experiments import classifier  # noqa: E402
from keras_svae.experiments import cli  # noqa: E402
from keras_svae.experiments import robustness  # noqa: E402

cli.define_model_flags()
flags.DEFINE_list("noises", list(robustness.NOISES), "Noise types to evaluate.")
flags.DEFINE_integer("classifier_epochs", 3, "Epochs of the classifier, if trained here.")
flags.DEFINE_integer("seed", 0, "Seed of the noise and the posterior draws.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    models = cli.trained_models(FLAGS)
    estimators = robustness.paper_estimators(models.load, seed=FLAGS.seed)
    judge = models.classifier(epochs=FLAGS.classifier_epochs, seed=FLAGS.seed)
    images, labels = models.images("test")
    images, labels = images[:FLAGS.test_size or None], labels[:FLAGS.test_size or None]
    clean_accuracy = classifier.accuracy(judge, images, labels)
    for noise in FLAGS.noises:
        start = time.perf_counter()
        rows = robustness.curves(judge, estimators, images, labels, noise, seed=FLAGS.seed)
        report = dict(noise=noise, schedule=FLAGS.schedule, test_images=len(images),
                      clean_accuracy=clean_accuracy, rows=rows,
                      wall_seconds=time.perf_counter() - start)
        text = robustness.write_report(os.path.join(cli.report_dir(FLAGS), f"robustness_{noise}"),
                                       report)
        print(noise, f"({report['wall_seconds']:.0f} s)\n" + text)


if __name__ == "__main__":
    app.run(main)
