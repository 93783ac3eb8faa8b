"""The evaluation researchers expect, for trained VAEs: log p(x) beside the ELBO, active
units, the KL spectrum, and latent interpolations and traversals (`keras_svae.evaluation`).

`evaluate` measures one model on test images; `write_report` writes the results of several
models as JSON, a markdown table and a plot (`plot`: AU against sigma and alpha, and each
model's KL spectrum); `write_panels` draws a model's interpolation between two
test images and the traversals of its most active units as PNGs (any number of channels).
"""

import os

import numpy as np

from keras_svae import evaluation
from keras_svae import images as grids  # `images` names the data here.
from keras_svae.experiments import report_files
from keras_svae.experiments import scaling_laws


def evaluate(model, images, k=1000, seed=0):
    """log p(x) (IWAE with k samples) and the one-sample ELBO, in nats and bits per dimension,
    with the active units and the KL spectrum, over `images`."""
    images = np.asarray(images, np.float32)
    log_px = model.log_likelihood(images, k=k, seed=seed)
    elbo = model.log_likelihood(images, k=1, seed=seed)  # k = 1: the ELBO's one-sample estimate.
    activity, spectrum = evaluation.latent_statistics(model, images)
    return dict(
        noise=model.noise, scale=model.scale, images=len(images), k=int(k),
        log_px=float(log_px.mean()), elbo=float(elbo.mean()),
        log_px_bits_per_dim=float(evaluation.bits_per_dim(log_px, model.data_shape).mean()),
        elbo_bits_per_dim=float(evaluation.bits_per_dim(elbo, model.data_shape).mean()),
        active_units=evaluation.count_active(activity),
        latent_dim=int(model.latent_dim), kl=float(spectrum.sum()),
        kl_per_dimension=[float(v) for v in np.sort(spectrum)[::-1]],
        activity=[float(v) for v in np.sort(activity)[::-1]])


def markdown_table(results):
    """One row per model: log p(x) and the ELBO (nats, bits/dim), AU, KL and its top units."""
    lines = ["| model | log p(x) (nats) | ELBO (nats) | gap | −log p(x) (bits/dim) | AU | D_KL | "
             "top-3 units' KL |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        top = ", ".join(f"{v:.2f}" for v in r["kl_per_dimension"][:3])
        lines.append(f"| {name} | {r['log_px']:.2f} | {r['elbo']:.2f} | {r['log_px'] - r['elbo']:.2f} "
                     f"| {r['log_px_bits_per_dim']:.4f} | {r['active_units']} / {r['latent_dim']} "
                     f"| {r['kl']:.2f} | {top} |")
    lines += ["", "log p(x): the importance-weighted bound with k samples of q(z|x) per image "
              f"({_samples(results)}); ELBO: its k = 1 estimate; both with every "
              "constant of p(x|z). bits/dim: −log p(x) / (d log 2), with no dequantisation "
              "offset; a σ- or α-VAE's p is the density of the noisy Y, so its bits/dim compare "
              "with its own kind only, not with the Bernoulli's or published 8-bit figures. AU: "
              "units with Cov_x(E_q[z_j]) > 0.01."]
    return "\n".join(lines) + "\n"


def _samples(results):
    """"k = K, on N test images", or each model's where they differ."""
    settings = {name: f"k = {r['k']}, on {r['images']} test images" for name, r in results.items()}
    if len(set(settings.values())) == 1:
        return next(iter(settings.values()))
    return "; ".join(f"{name}: {text}" for name, text in settings.items())


def plot(results, path):
    """Left: active units against the scale, a line per noise model (the vanilla VAE, which
    has no scale, a horizontal line). Right: each model's KL per unit, largest first.
    Returns the (closed) figure."""
    import matplotlib.pyplot as plt  # Imported here: only the report draws.

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for noise, symbol in scaling_laws.SYMBOLS.items():
        points = sorted((r["scale"], r["active_units"]) for r in results.values()
                        if r["noise"] == noise)
        if points:
            left.plot(*zip(*points), "o-", label=f"{symbol}-VAE (against {symbol})")
    for name, r in results.items():
        if r["scale"] is None:
            left.axhline(r["active_units"], ls="--", color="grey", label=name)
        spectrum = np.maximum(np.asarray(r["kl_per_dimension"]), 1e-6)  # Log axis: no zeros.
        right.semilogy(np.arange(1, len(spectrum) + 1), spectrum, label=name)
    left.set(xlabel="scale (σ or α)", ylabel="active units (Cov_x E_q[z_j] > 0.01)",
             title="Active units")
    right.set(xlabel="latent unit (by KL, largest first)", ylabel="⟨KL[q(z_j|x) ‖ N(0, 1)]⟩ (nats)",
              title="KL spectrum")
    left.legend(fontsize=7)
    right.legend(fontsize=6, ncol=2)
    return report_files.save_figure(fig, path)


def write_report(results, stem):
    """<stem>.json, <stem>.md and <stem>.png from {model name: `evaluate`'s result}; returns
    the table."""
    table = markdown_table(results)
    report_files.write(stem, results, table, lambda path: plot(results, path))
    return table


def _save(path, image, title):
    import matplotlib.pyplot as plt  # Imported here: only the panels draw.

    height, width = image.shape[:2]
    fig, ax = plt.subplots(figsize=(max(4.0, width / 40), max(1.5, height / 40) + 0.5), dpi=120)
    grids.show(ax, image)
    ax.set_title(title, fontsize=8)
    report_files.save_figure(fig, path)


def write_panels(model, images, stem, name, units=5, steps=10):
    """<stem>_interpolation.png (test image 0 to test image 1) and <stem>_traversals.png (the
    `units` most active latent units of test image 0, from -3 to 3); returns the paths."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"Panels draw images (N, H, W, C); got shape {images.shape}.")
    path = evaluation.interpolate(model, images[0], images[1], steps)
    paths = [stem + "_interpolation.png", stem + "_traversals.png"]
    _save(paths[0], grids.tile(path[None]), f"{name}: x̂ from E_q[z|x_a] to E_q[z|x_b]")
    order = evaluation.most_active(evaluation.latent_activity(model, images), units)
    grid = evaluation.traverse(model, images[0], order)
    _save(paths[1], grids.tile(grid), f"{name}: traversals of the {len(order)} most active units "
          f"({', '.join(map(str, order))}), z_j from -3 to 3")
    return [os.path.abspath(p) for p in paths]
