"""The paper's robustness figures (Figures 2-6) and prior samples (Appendix C).

Every panel is a grid of test images (`images.tile`; grey-scale or colour). The noisy images are drawn once per
figure, from the given seed (`streams`), and held fixed for every model, as in
the paper; each model's estimate is its `estimate(y, seed)` (x_hat(z), z ~ q(z|y), for
a VAE; x_hat(y) for DEEN). `models` is any callable (model, scale) -> a
trained model, e.g. `runs.TrainedModels.load`.

* fig2_gaussian.png: 50 copies of a test "3" under Gaussian sigma = 0.9;
  the sigma-VAE (0.9), the vanilla VAE, DEEN (0.9). Figure 2 (a-d).
* fig2_laplace.png: a "2" under Laplace alpha = 0.4; the alpha-VAE (0.9),
  the vanilla VAE and DEEN (0.6). Figure 2 (e-h).
* fig3_laplace.png: 8 test digits x_i (rows) x 8 noise draws eps_j
  (columns), y_ij = x_i + eps_j, Laplace alpha = 0.4: clean, noisy,
  alpha-VAE (0.9), DEEN (0.6), vanilla VAE. Figure 3.
* fig4_gaussian.png: as Figure 3 under Gaussian sigma = 0.9: clean, noisy,
  sigma-VAE (0.9), DEEN (0.9), and (not in the paper, which says it "breaks
  down") the vanilla VAE.
* fig5_sigmas.png: a "5" under Gaussian sigma = 0.9 through the sigma-VAEs
  trained with each sigma.
* fig6_salt_and_pepper.png: as Figure 4 with salt-and-pepper p = 0.5 (each
  image its own draw: the noise is not additive) and DEEN (0.6).
* appendix_c_samples.png: x_hat(z), z ~ N(0, I), of the sigma = 0.9 model.
"""

import os

import numpy as np
from keras import ops

from keras_svae import corruption
from keras_svae import images as grids  # `images` names the data here.
from keras_svae import seeding
from keras_svae.experiments import paper
from keras_svae.experiments import report_files

FIGURES = ("fig2_gaussian", "fig2_laplace", "fig3_laplace", "fig4_gaussian", "fig5_sigmas",
           "fig6_salt_and_pepper", "appendix_c_samples")


def save_panels(path, panels, columns, title):
    """One PNG: a titled grey-scale panel per (caption, images), side by side."""
    import matplotlib.pyplot as plt  # Imported here: only the figures draw.

    width = max(2.6 * len(panels) * max(columns, 5) / 10, 7.0)
    rows = len(panels[0][1]) // columns
    height = width / len(panels) * rows / columns + 0.9  # Room for the titles.
    fig, axes = plt.subplots(1, len(panels), figsize=(width, height), dpi=120, squeeze=False)
    for ax, (caption, images) in zip(axes[0], panels):
        grids.show(ax, grids.tile(grids.in_rows(images, columns)))
        ax.set_title(caption, fontsize=8)
    fig.suptitle(title, fontsize=9)
    report_files.save_figure(fig, path)


def streams(seed, figure):
    """(noise seed, posterior-draws seed) of one figure of `FIGURES`: the streams
    (seed, `seeding.FIGURES`, index of the figure, `seeding.NOISE` / `seeding.DRAWS`).

    Every model of a figure sees the same y and the same draws; no two figures, and
    no figure's noise and draws, share a stream.
    """
    index = FIGURES.index(figure)
    return tuple(seeding.derive(seed, seeding.FIGURES, index, what)
                 for what in (seeding.NOISE, seeding.DRAWS))


def estimate(model, y, seed):
    """The model's estimate of x from y, as a NumPy array."""
    return ops.convert_to_numpy(model.estimate(y, seed=seed))


def first_of_class(images, labels, digit):
    """The first image labelled `digit`."""
    matches = np.flatnonzero(np.asarray(labels) == digit)
    if not len(matches):
        raise ValueError(f"No image of the digit {digit} among the {len(labels)} given.")
    return images[int(matches[0])]


def copies(image, noise, level, seed, n=50):
    """n independent noisy copies of one image."""
    return corruption.apply(noise, np.repeat(image[None], n, axis=0), level, seed=seed)


def digits_by_draws(images, labels, noise, level, seed, n=8):
    """n digits x_i (rows) x n draws (columns): the clean grid and y_ij.

    Additive noise is y_ij = x_i + eps_j, one eps_j per column as in the
    paper; salt-and-pepper replaces pixels, so each y_ij is its own draw.
    """
    x = np.stack([first_of_class(images, labels, d) for d in range(n)])
    clean = np.repeat(x, n, axis=0)  # Row-major: image k is x_(k // n).
    if noise == "salt_and_pepper":
        return clean, corruption.apply(noise, clean, level, seed=seed)
    eps = corruption.apply(noise, np.zeros_like(x), level, seed=seed)  # n draws.
    return clean, clean + np.tile(eps, (n, 1, 1, 1))  # Image k gets eps_(k % n).


def figure2(models, images, labels, out, seed=0):
    noise, draws = streams(seed, "fig2_gaussian")
    y = copies(first_of_class(images, labels, 3), "gaussian", 0.9, noise)
    save_panels(os.path.join(out, "fig2_gaussian.png"), [
        ("(a) y = x + N(0, 0.9²)", y),
        ("(b) σ-VAE (σ = 0.9)", estimate(models("sigma_vae", 0.9), y, draws)),
        ("(c) vanilla VAE", estimate(models("vanilla_vae", None), y, draws)),
        ("(d) DEEN (σ = 0.9)", estimate(models("deen", 0.9), y, draws)),
    ], columns=10, title="Figure 2 (a-d): Gaussian noise, σ = 0.9")
    noise, draws = streams(seed, "fig2_laplace")
    y = copies(first_of_class(images, labels, 2), "laplace", 0.4, noise)
    save_panels(os.path.join(out, "fig2_laplace.png"), [
        ("(e) y = x + Laplace(0.4)", y),
        ("(f) α-VAE (α = 0.9)", estimate(models("alpha_vae", 0.9), y, draws)),
        ("(g) vanilla VAE", estimate(models("vanilla_vae", None), y, draws)),
        ("(h) DEEN (σ = 0.6)", estimate(models("deen", 0.6), y, draws)),
    ], columns=10, title="Figure 2 (e-h): Laplace noise, α = 0.4")


def figure3(models, images, labels, out, seed=0):
    noise, draws = streams(seed, "fig3_laplace")
    clean, y = digits_by_draws(images, labels, "laplace", 0.4, noise)
    save_panels(os.path.join(out, "fig3_laplace.png"), [
        ("(a) x", clean), ("(b) y = x + Laplace(0.4)", y),
        ("(c) α-VAE (α = 0.9)", estimate(models("alpha_vae", 0.9), y, draws)),
        ("(d) DEEN (σ = 0.6)", estimate(models("deen", 0.6), y, draws)),
        ("(e) vanilla VAE", estimate(models("vanilla_vae", None), y, draws)),
    ], columns=8, title="Figure 3: Laplace noise, α = 0.4")


def figure4_and_6(models, images, labels, out, seed=0):
    noise, draws = streams(seed, "fig4_gaussian")
    clean, y = digits_by_draws(images, labels, "gaussian", 0.9, noise)
    save_panels(os.path.join(out, "fig4_gaussian.png"), [
        ("(a) x", clean), ("(b) y = x + N(0, 0.9²)", y),
        ("(c) σ-VAE (σ = 0.9)", estimate(models("sigma_vae", 0.9), y, draws)),
        ("(d) DEEN (σ = 0.9)", estimate(models("deen", 0.9), y, draws)),
        ("vanilla VAE", estimate(models("vanilla_vae", None), y, draws)),
    ], columns=8, title="Figure 4: Gaussian noise, σ = 0.9")
    noise, draws = streams(seed, "fig6_salt_and_pepper")
    clean, y = digits_by_draws(images, labels, "salt_and_pepper", 0.5, noise)
    save_panels(os.path.join(out, "fig6_salt_and_pepper.png"), [
        ("(a) x", clean), ("(b) salt-and-pepper, p = 0.5", y),
        ("(c) σ-VAE (σ = 0.9)", estimate(models("sigma_vae", 0.9), y, draws)),
        ("(d) DEEN (σ = 0.6)", estimate(models("deen", 0.6), y, draws)),
        ("vanilla VAE", estimate(models("vanilla_vae", None), y, draws)),
    ], columns=8, title="Figure 6: salt-and-pepper noise, p = 0.5")


def figure5(models, images, labels, out, seed=0, sigmas=paper.SCALES):
    noise, draws = streams(seed, "fig5_sigmas")
    y = copies(first_of_class(images, labels, 5), "gaussian", 0.9, noise, n=25)
    panels = [("(a) y = x + N(0, 0.9²)", y)] + [
        (f"σ-VAE σ = {s:g}", estimate(models("sigma_vae", s), y, draws)) for s in sigmas]
    save_panels(os.path.join(out, "fig5_sigmas.png"), panels, columns=5,
                title="Figure 5: one noisy “5” (σ = 0.9) through σ-VAEs trained with each σ")


def appendix_c(models, out, seed=0):
    _, draws = streams(seed, "appendix_c_samples")
    samples = ops.convert_to_numpy(models("sigma_vae", 0.9).sample(100, seed=draws))
    save_panels(os.path.join(out, "appendix_c_samples.png"),
                [("x̂(z), z ~ N(0, I), σ-VAE σ = 0.9", samples)], columns=10,
                title="Appendix C: samples from the prior")


def write_all(models, images, labels, out, seed=0, sigmas=paper.SCALES):
    """Every figure into `out`; returns the PNG paths."""
    os.makedirs(out, exist_ok=True)
    figure2(models, images, labels, out, seed)
    figure3(models, images, labels, out, seed)
    figure4_and_6(models, images, labels, out, seed)
    figure5(models, images, labels, out, seed, sigmas)
    appendix_c(models, out, seed)
    return [os.path.join(out, f"{name}.png") for name in FIGURES]
