r"""The paper's robustness figures (Figures 2-6) and prior samples (Appendix C).

    python examples/figures.py --schedule=cpu --data=../shared/data/mnist.npz \
        --root=runs --report_dir=docs/figures

Writes one PNG per figure into --report_dir, in the paper's layout. Every
panel is a grid of 28x28 digits; the noisy images are drawn once per figure
and held fixed for every model, as in the paper:

* fig2_gaussian.png: 50 copies of a test "3" under Gaussian sigma = 0.9;
  x_hat(z), z ~ q(z|y), of the sigma-VAE (0.9) and the vanilla VAE; DEEN's
  x_hat(y) (sigma = 0.9). Figure 2 (a-d).
* fig2_laplace.png: a "2" under Laplace alpha = 0.4; the alpha-VAE (0.9),
  the vanilla VAE and DEEN (0.6). Figure 2 (e-h).
* fig3_laplace.png: 8 test digits x_i (rows) x 8 noise draws eps_j
  (columns), y_ij = x_i + eps_j, Laplace alpha = 0.4: clean, noisy,
  alpha-VAE (0.9), DEEN (0.6), vanilla VAE. Figure 3.
* fig4_gaussian.png: as Figure 3 under Gaussian sigma = 0.9: clean, noisy,
  sigma-VAE (0.9), DEEN (0.9), and (not in the paper, which says it "breaks
  down") the vanilla VAE.
* fig5_sigmas.png: a "5" under Gaussian sigma = 0.9 through the sigma-VAEs
  trained with sigma = 0.1 ... 0.9.
* fig6_salt_and_pepper.png: as Figure 4 with salt-and-pepper p = 0.5 (each
  image its own draw: the noise is not additive) and DEEN (0.6).
* appendix_c_samples.png: x_hat(z), z ~ N(0, I), of the sigma = 0.9 model.

The models come from <root>/<schedule>/ and are trained there first if
missing (as in examples/scaling_laws.py).
"""

import os

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import experiment_flags  # noqa: E402  (examples/: the flags shared with robustness, scaling_laws)
from keras import ops  # noqa: E402

from keras_svae import data  # noqa: E402
from keras_svae import experiments  # noqa: E402
from keras_svae import robustness  # noqa: E402

flags.DEFINE_list("sigmas", [f"{s:g}" for s in experiments.SCALES], "Figure 5's sigma-VAEs.")
flags.DEFINE_integer("seed", 0, "Seed of the noise, the posterior draws and the prior samples.")
FLAGS = flags.FLAGS


class Models:
    """Loads (training first if missing) the models the figures use, once each."""

    def __init__(self):
        self._loaded = {}

    def __call__(self, model, scale=None):
        if (model, scale) not in self._loaded:
            self._loaded[model, scale] = experiment_flags.trained(model, scale)
        return self._loaded[model, scale]


def tile(images, columns):
    """(n, h, w, 1) images -> one (rows*h, columns*w) array, row-major, clipped to [0, 1]."""
    images = np.clip(np.asarray(images, np.float32)[..., 0], 0.0, 1.0)
    rows = len(images) // columns
    h, w = images.shape[1:]
    return images[:rows * columns].reshape(rows, columns, h, w).swapaxes(1, 2).reshape(
        rows * h, columns * w)


def save_panels(path, panels, columns, title):
    """One PNG: a titled grey-scale panel per (caption, images), side by side."""
    width = max(2.6 * len(panels) * max(columns, 5) / 10, 7.0)
    rows = len(panels[0][1]) // columns
    height = width / len(panels) * rows / columns + 0.9  # Room for the titles.
    fig, axes = plt.subplots(1, len(panels), figsize=(width, height), dpi=120, squeeze=False)
    for ax, (caption, images) in zip(axes[0], panels):
        ax.imshow(tile(images, columns), cmap="gray", vmin=0.0, vmax=1.0,
                  interpolation="nearest")
        ax.set_title(caption, fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def estimate(model, y):
    """The model's estimate of x from y (x_hat(z), z ~ q(z|y), or DEEN's x_hat(y))."""
    return ops.convert_to_numpy(robustness.estimator(model, seed=FLAGS.seed)(y))


def first_of_class(images, labels, digit):
    return images[int(np.flatnonzero(labels == digit)[0])]


def copies(image, noise, level, n=50):
    """n independent noisy copies of one image."""
    return robustness.corrupt(noise, np.repeat(image[None], n, axis=0), level, seed=FLAGS.seed)


def figure2(models, images, labels, out):
    y = copies(first_of_class(images, labels, 3), "gaussian", 0.9)
    save_panels(os.path.join(out, "fig2_gaussian.png"), [
        ("(a) y = x + N(0, 0.9²)", y),
        ("(b) σ-VAE (σ = 0.9)", estimate(models("sigma_vae", 0.9), y)),
        ("(c) vanilla VAE", estimate(models("vanilla_vae"), y)),
        ("(d) DEEN (σ = 0.9)", estimate(models("deen", 0.9), y)),
    ], columns=10, title="Figure 2 (a-d): Gaussian noise, σ = 0.9")
    y = copies(first_of_class(images, labels, 2), "laplace", 0.4)
    save_panels(os.path.join(out, "fig2_laplace.png"), [
        ("(e) y = x + Laplace(0.4)", y),
        ("(f) α-VAE (α = 0.9)", estimate(models("alpha_vae", 0.9), y)),
        ("(g) vanilla VAE", estimate(models("vanilla_vae"), y)),
        ("(h) DEEN (σ = 0.6)", estimate(models("deen", 0.6), y)),
    ], columns=10, title="Figure 2 (e-h): Laplace noise, α = 0.4")


def digits_by_draws(images, labels, noise, level, n=8):
    """n digits x_i (rows) x n draws (columns): the clean grid and y_ij.

    Additive noise is y_ij = x_i + eps_j, one eps_j per column as in the
    paper; salt-and-pepper replaces pixels, so each y_ij is its own draw.
    """
    x = np.stack([first_of_class(images, labels, d) for d in range(n)])
    clean = np.repeat(x, n, axis=0)  # Row-major: image k is x_(k // n).
    if noise == "salt_and_pepper":
        return clean, robustness.corrupt(noise, clean, level, seed=FLAGS.seed)
    eps = robustness.corrupt(noise, np.zeros_like(x), level, seed=FLAGS.seed)  # n draws.
    return clean, clean + np.tile(eps, (n, 1, 1, 1))  # Image k gets eps_(k % n).


def figure3(models, images, labels, out):
    clean, y = digits_by_draws(images, labels, "laplace", 0.4)
    save_panels(os.path.join(out, "fig3_laplace.png"), [
        ("(a) x", clean), ("(b) y = x + Laplace(0.4)", y),
        ("(c) α-VAE (α = 0.9)", estimate(models("alpha_vae", 0.9), y)),
        ("(d) DEEN (σ = 0.6)", estimate(models("deen", 0.6), y)),
        ("(e) vanilla VAE", estimate(models("vanilla_vae"), y)),
    ], columns=8, title="Figure 3: Laplace noise, α = 0.4")


def figure4_and_6(models, images, labels, out):
    clean, y = digits_by_draws(images, labels, "gaussian", 0.9)
    save_panels(os.path.join(out, "fig4_gaussian.png"), [
        ("(a) x", clean), ("(b) y = x + N(0, 0.9²)", y),
        ("(c) σ-VAE (σ = 0.9)", estimate(models("sigma_vae", 0.9), y)),
        ("(d) DEEN (σ = 0.9)", estimate(models("deen", 0.9), y)),
        ("vanilla VAE", estimate(models("vanilla_vae"), y)),
    ], columns=8, title="Figure 4: Gaussian noise, σ = 0.9")
    clean, y = digits_by_draws(images, labels, "salt_and_pepper", 0.5)
    save_panels(os.path.join(out, "fig6_salt_and_pepper.png"), [
        ("(a) x", clean), ("(b) salt-and-pepper, p = 0.5", y),
        ("(c) σ-VAE (σ = 0.9)", estimate(models("sigma_vae", 0.9), y)),
        ("(d) DEEN (σ = 0.6)", estimate(models("deen", 0.6), y)),
        ("vanilla VAE", estimate(models("vanilla_vae"), y)),
    ], columns=8, title="Figure 6: salt-and-pepper noise, p = 0.5")


def figure5(models, images, labels, out):
    y = copies(first_of_class(images, labels, 5), "gaussian", 0.9, n=25)
    sigmas = [float(s) for s in FLAGS.sigmas]
    panels = [("(a) y = x + N(0, 0.9²)", y)] + [
        (f"σ-VAE σ = {s:g}", estimate(models("sigma_vae", s), y)) for s in sigmas]
    save_panels(os.path.join(out, "fig5_sigmas.png"), panels, columns=5,
                title="Figure 5: one noisy “5” (σ = 0.9) through σ-VAEs trained with each σ")


def appendix_c(models, out):
    samples = ops.convert_to_numpy(models("sigma_vae", 0.9).sample(100, seed=FLAGS.seed))
    save_panels(os.path.join(out, "appendix_c_samples.png"),
                [("x̂(z), z ~ N(0, I), σ-VAE σ = 0.9", samples)], columns=10,
                title="Appendix C: samples from the prior")


def main(argv):
    del argv
    models = Models()
    images, labels = data.load_mnist("test", path=FLAGS.data)
    out = experiment_flags.report_dir()
    figure2(models, images, labels, out)
    figure3(models, images, labels, out)
    figure4_and_6(models, images, labels, out)
    figure5(models, images, labels, out)
    appendix_c(models, out)
    print("\n".join(sorted(f for f in os.listdir(out) if f.endswith(".png"))))


if __name__ == "__main__":
    app.run(main)
