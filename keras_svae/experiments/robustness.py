"""Robustness curves: how much of a digit survives real noise, in numbers.

The paper shows robustness in pictures (Figures 2-6): the sigma-VAE's
x_hat(z), z ~ q(z|y) stays a digit under heavy noise while the vanilla VAE
breaks down. Here that becomes two numbers per (estimator, noise level):

* the accuracy of a classifier trained on clean MNIST (`classifier`) on the
  estimate of x made from y,
* the estimate's squared error to the clean x, ||x - x_hat||^2 summed over
  pixels and averaged over images (Table 2's quantity when y = x).

An estimator maps a batch of noisy y to estimates of x: `identity` (the raw
y, unclipped: pixels outside [0, 1] go to the classifier as they are) or
`estimator(model)`, the model's own `estimate` (DEEN's x_hat(y), eq. 3; a
VAE's x_hat(z), z ~ q(z|y), one draw per image). Every estimator sees the
same noisy images at each level. `ESTIMATORS` names the models of the
paper's comparison; `write_report` writes a noise type's tables, JSON and
plot.
"""


import keras
import numpy as np
from keras import ops

from keras_svae import corruption
from keras_svae import seeding
from keras_svae.experiments import classifier as classifier_lib
from keras_svae.experiments import report_files

NOISES = corruption.NOISES
# The levels of the robustness curves: sigma, alpha and p. Gaussian adds 0.9,
# the paper's level for Figures 2-5.
LEVELS = {
    "gaussian": (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.2),
    "laplace": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    "salt_and_pepper": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
}


def identity(y):
    """The raw noisy y as its own estimate."""
    return y


def estimator(model, seed=0):
    """The model's `estimate`, seeded: a fresh posterior draw per call, the same run to run.

    `seed` is a `keras.random.SeedGenerator` (which then serves every call) or an int,
    the stream (seed, `seeding.ROBUSTNESS`, `seeding.DRAWS`).
    """
    generator = seed if isinstance(seed, keras.random.SeedGenerator) else (
        seeding.generator(seed, seeding.ROBUSTNESS, seeding.DRAWS))
    return lambda y: model.estimate(y, seed=generator)


def corrupt(noise, images, level, seed):
    """`images` under `noise` ("gaussian", "laplace", "salt_and_pepper") at `level`, as NumPy."""
    return corruption.apply(noise, images, level, seed=seed)


def batched(function, images, batch_size):
    """`function` over `images` in batches of `batch_size`, concatenated as NumPy."""
    return np.concatenate([ops.convert_to_numpy(function(images[i:i + batch_size]))
                           for i in range(0, len(images), batch_size)])


def curves(classifier, estimators, images, labels, noise, levels=None, seed=0, batch_size=500):
    """Accuracy and squared error of every estimator at every noise level.

    Args:
        classifier: a Keras model, images -> class logits.
        estimators: dict name -> function (a batch of noisy y -> estimates).
        images, labels: clean test images (N, H, W, C) in [0, 1], int labels (N,).
        noise: a key of `NOISES`; levels: defaults to `LEVELS[noise]`.
        seed: the noise of level k is the stream (seed, `seeding.ROBUSTNESS`,
            `seeding.NOISE`, k), the same for every estimator.

    Returns:
        A list of dicts: estimator, level, accuracy, mse.
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise ValueError(f"Got {len(images)} images but {len(labels)} labels.")
    rows = []
    for k, level in enumerate(LEVELS[noise] if levels is None else levels):
        y = corrupt(noise, images, level,
                    seed=seeding.derive(seed, seeding.ROBUSTNESS, seeding.NOISE, k))
        for name, function in estimators.items():
            estimate = batched(function, y, batch_size)
            rows.append(dict(
                estimator=name, level=float(level),
                accuracy=classifier_lib.accuracy(classifier, estimate, labels, batch_size),
                mse=float(np.mean(np.square(estimate - images).reshape(len(images), -1).sum(axis=1))),
            ))
    return rows


# (label, model, scale) of every estimator of the paper's comparison; model None is the raw y.
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
LEVEL_NAMES = {"gaussian": "σ_test", "laplace": "α_test", "salt_and_pepper": "p"}


def paper_estimators(models, seed=0):
    """name -> estimator for `ESTIMATORS`; `models` maps (model, scale) to a trained model."""
    return {label: identity if model is None else estimator(models(model, scale), seed=seed)
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
        out += [f"{title}:", "", f"| {LEVEL_NAMES[noise]} | " + " | ".join(names) + " |",
                "|---" * (len(names) + 1) + "|"]
        out += [f"| {level:g} | " + " | ".join(fmt.format(scale * value[n, level][key])
                                               for n in names) + " |" for level in levels]
        out.append("")
    return "\n".join(out)


def plot(noise, rows, path):
    """Accuracy and squared error against the noise level, a line per estimator."""
    import matplotlib.pyplot as plt  # Imported here: only the reports draw.

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
        ax.set_xlabel(LEVEL_NAMES[noise])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"MNIST test set under {noise.replace('_', '-')} noise")
    report_files.save_figure(fig, path)


def write_report(stem, report):
    """Writes `report` (noise, rows, clean_accuracy, ...) to <stem>.json, its tables to
    <stem>.md and its curves to <stem>.png; returns the tables."""
    text = tables(report["noise"], report["rows"])
    report_files.write(stem, report, "Classifier accuracy on the clean test images: "
                       f"{100 * report['clean_accuracy']:.2f}%\n\n" + text,
                       lambda path: plot(report["noise"], report["rows"], path))
    return text
