r"""Robustness curves: classifier accuracy and squared error under real noise.

    python examples/robustness.py --schedule=cpu --data=../shared/data/mnist.npz \
        --root=runs --report_dir=docs/robustness

For Gaussian sigma_test in {0, 0.2, ..., 1.2} and 0.9, Laplace alpha_test in
{0.1, ..., 0.6} and salt-and-pepper p in {0.1, ..., 0.6} it corrupts the
MNIST test images and measures, for the raw noisy y, DEEN's x_hat(y)
(sigma = 0.6, 0.9) and x_hat(z), z ~ q(z|y) of the sigma-VAEs (0.1, 0.5,
0.9), the alpha-VAE (0.9) and the vanilla VAE, the accuracy of a ConvNet
trained on clean MNIST (`keras_svae.classifier`) and the mean
||x - x_hat||^2. The models come from <root>/<schedule>/ (trained there
first if missing, like examples/scaling_laws.py); the classifier from
<root>/classifier_<settings>.keras (trained there if missing). Writes
robustness_<noise>.{md,json,png} to --report_dir.
"""

import json
import os
import time

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
import matplotlib.pyplot as plt  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import experiment_flags  # noqa: E402  (examples/: the flags shared with figures, scaling_laws)
from keras_svae import classifier  # noqa: E402
from keras_svae import data  # noqa: E402
from keras_svae import experiments  # noqa: E402
from keras_svae import robustness  # noqa: E402

# (label, model, scale) of every estimator; model None is the raw y.
ESTIMATORS = (
    ("raw y", None, None),
    ("DEEN σ=0.6", "deen", 0.6),
    ("DEEN σ=0.9", "deen", 0.9),
    ("σ-VAE σ=0.1", "sigma_vae", 0.1),
    ("σ-VAE σ=0.5", "sigma_vae", 0.5),
    ("σ-VAE σ=0.9", "sigma_vae", 0.9),
    ("α-VAE α=0.9", "alpha_vae", 0.9),
    ("vanilla VAE", "vanilla_vae", None),
)
_LEVEL = {"gaussian": "σ_test", "laplace": "α_test", "salt_and_pepper": "p"}

flags.DEFINE_list("noises", list(robustness.NOISES), "Noise types to evaluate.")
flags.DEFINE_integer("classifier_epochs", 3, "Epochs of the classifier, if trained here.")
flags.DEFINE_integer("seed", 0, "Seed of the noise and the posterior draws.")
FLAGS = flags.FLAGS


def load_estimators():
    """name -> function of y, training any missing model with the schedule."""
    return {label: robustness.identity if model is None else
            robustness.estimator(experiment_flags.trained(model, scale), seed=FLAGS.seed)
            for label, model, scale in ESTIMATORS}


def tables(noise, rows):
    """Two markdown tables (accuracy, squared error): a row per level, a column per estimator."""
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    levels = list(dict.fromkeys(r["level"] for r in rows))
    value = {(r["estimator"], r["level"]): r for r in rows}
    out = []
    for key, title, fmt in (("accuracy", "Classifier accuracy (%)", "{:.1f}"),
                            ("mse", "Mean ‖x − x̂‖²", "{:.1f}")):
        scale = 100.0 if key == "accuracy" else 1.0
        out += [f"{title}:", "", f"| {_LEVEL[noise]} | " + " | ".join(names) + " |",
                "|---" * (len(names) + 1) + "|"]
        out += [f"| {level:g} | " + " | ".join(fmt.format(scale * value[n, level][key])
                                               for n in names) + " |" for level in levels]
        out.append("")
    return "\n".join(out)


def plot(noise, rows, path):
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for name in names:
        mine = [r for r in rows if r["estimator"] == name]
        levels = [r["level"] for r in mine]
        style = "k--" if name == "raw y" else "-o"
        axes[0].plot(levels, [100 * r["accuracy"] for r in mine], style, ms=3, label=name)
        axes[1].semilogy(levels, [r["mse"] for r in mine], style, ms=3, label=name)
    axes[0].set_ylabel("classifier accuracy (%)")
    axes[1].set_ylabel("mean ‖x − x̂‖²")
    for ax in axes:
        ax.set_xlabel(_LEVEL[noise])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"MNIST test set under {noise.replace('_', '-')} noise")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv):
    del argv
    estimators = load_estimators()
    judge = experiments.trained_classifier(FLAGS.root, FLAGS.data, epochs=FLAGS.classifier_epochs,
                                           train_size=FLAGS.train_size, seed=FLAGS.seed)
    images, labels = data.load_mnist("test", path=FLAGS.data)
    images, labels = images[:FLAGS.test_size or None], labels[:FLAGS.test_size or None]
    clean_accuracy = classifier.accuracy(judge, images, labels)
    report_dir = experiment_flags.report_dir()
    for noise in FLAGS.noises:
        start = time.perf_counter()
        rows = robustness.curves(judge, estimators, images, labels, noise, seed=FLAGS.seed)
        stem = os.path.join(report_dir, f"robustness_{noise}")
        with open(stem + ".json", "w") as f:
            json.dump(dict(noise=noise, schedule=FLAGS.schedule, test_images=len(images),
                           clean_accuracy=clean_accuracy, rows=rows,
                           wall_seconds=time.perf_counter() - start), f, indent=2)
        text = tables(noise, rows)
        with open(stem + ".md", "w") as f:
            f.write(f"Classifier accuracy on the clean test images: {100 * clean_accuracy:.2f}%\n\n")
            f.write(text)
        plot(noise, rows, stem + ".png")
        print(noise, f"({time.perf_counter() - start:.0f} s)\n" + text)


if __name__ == "__main__":
    app.run(main)
