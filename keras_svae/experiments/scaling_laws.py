"""The KL power laws of Tables 1-4: a sweep's summary and its reports.

A sweep trains one sigma-VAE (or alpha-VAE) per scale and evaluates each on
the MNIST test set. `summarize` turns their test metrics into the rows of
Tables 1-4:

* <D_KL>: the mean KL[q(z|x) || N(0, I)] (Tables 1 and 3),
* <MSE>: the mean E_q ||x - x_hat(z)||^2 (Table 2),
* <L>: the mean ELBO without the likelihood's constant (Table 4),
* D_KL / L per scale, with its mean and (population) std over the scales,

and fits nu in log D_KL = -nu log scale + C (`power_law`). `write_report`
writes the summary as JSON, a markdown table beside the paper's values
(`paper`) and a log-log plot with the fit.
"""

import dataclasses

import numpy as np

from keras_svae.experiments import paper
from keras_svae.experiments import power_law
from keras_svae.experiments import report_files

# The sweeps: the noise models the paper has tables for (sigma-VAEs and alpha-VAEs; each
# noise's VAE is `training.model_of(noise)`).
NOISES = tuple(paper.TABLES)
SYMBOLS = {"gaussian": "σ", "laplace": "α"}


def summarize(noise, scales, metrics, wall_seconds=None):
    """The sweep's numbers: per-scale rows, the fit of nu and the D_KL / L ratio.

    Args:
        noise: "gaussian" (sigma-VAEs) or "laplace" (alpha-VAEs).
        scales: the sigmas (alphas), one per model.
        metrics: each model's test metrics (`kl`, `mse`, `elbo`), as `evaluate` reports them.
        wall_seconds: optional training time of each model, kept in its row.
    """
    if noise not in NOISES:
        raise ValueError(f"noise must be one of {sorted(NOISES)}, got {noise!r}.")
    if len(scales) != len(metrics):
        raise ValueError(f"Got {len(scales)} scales but {len(metrics)} sets of metrics.")
    rows = [dict(scale=s, kl=m["kl"], mse=m["mse"], elbo=m["elbo"], ratio=m["kl"] / m["elbo"])
            for s, m in zip(scales, metrics)]
    for row, seconds in zip(rows, wall_seconds or ()):
        row["wall_seconds"] = seconds
    # nu needs three scales (a line and its standard error); fewer report their rows only.
    fit = (dataclasses.asdict(power_law.fit_power_law(scales, [r["kl"] for r in rows]))
           if len(rows) >= 3 else None)
    ratios = np.array([r["ratio"] for r in rows])
    # The population std (ddof=0), as the paper's "-0.481 +- 0.045" (recomputed from Tables 1-2).
    return dict(noise=noise, rows=rows, fit=fit,
                ratio_mean=float(ratios.mean()), ratio_std=float(ratios.std()))


def schedule_record(name, config, runs, trained_as="one model after another", device=None):
    """What a report says about how its models were trained, epochs actually done included."""
    record = dict(name=name, trained_as=trained_as, **{
        k: getattr(config, k) for k in ("epochs", "batch_size", "learning_rate", "train_size",
                                        "test_size", "latent_dim", "seed")})
    done = [run.epochs_done for run in runs if run.epochs_done is not None]
    record["epochs_done"] = min(done) if done else config.epochs
    if device:
        record["device"] = device
    return record


def _paper_cell(noise, key, scale):
    value = paper.value(noise, key, scale)
    return "–" if value is None else f"{value:g}"


def markdown_table(summary):
    """The sweep beside the paper's Tables 1-4, as markdown."""
    noise, s = summary["noise"], SYMBOLS[summary["noise"]]
    lines = [
        f"| {s} | ⟨D_KL⟩ | paper | ⟨MSE⟩ | paper | ⟨L⟩ | D_KL / L | paper | wall (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["rows"]:
        wall = f"{r['wall_seconds']:.0f}" if r.get("wall_seconds") else "–"
        lines.append(
            f"| {r['scale']:g} | {r['kl']:.3g} | {_paper_cell(noise, 'kl', r['scale'])} "
            f"| {r['mse']:.3g} | {_paper_cell(noise, 'mse', r['scale'])} | {r['elbo']:.4g} "
            f"| {r['ratio']:.3f} | {_paper_cell(noise, 'ratio', r['scale'])} | {wall} |"
        )
    fit, theirs = summary["fit"], paper.TABLES[noise]
    schedule = summary.get("schedule")
    if schedule and schedule.get("epochs_done", schedule["epochs"]) < schedule["epochs"]:
        lines = [f"**Partial: {schedule['epochs_done']} of {schedule['epochs']} epochs done** "
                 "(a time-limited run; rerunning the same command carries on).", ""] + lines
    if schedule:
        lines += ["", f"Schedule `{schedule['name']}`: {schedule['epochs']} epochs, batch "
                  f"{schedule['batch_size']}, Adam {schedule['learning_rate']:g}; trained "
                  f"{schedule.get('trained_as', 'one model after another')}"
                  + (f" on {schedule['device']}" if schedule.get("device") else "") + "."]
        if schedule.get("wall"):
            lines[-1] += f" {schedule['wall']}."
    if summary.get("models_of"):
        lines = [f"**{len(summary['rows'])} of {summary['models_of']} models** (the others have "
                 "not finished their epochs).", ""] + lines
    nu = (f"ν = {fit['nu']:.3f} ± {fit['nu_stderr']:.3f} (standard error), p = "
          f"{fit['p_value']:.2g}, r² = {fit['r_squared']:.4f}" if fit else
          f"ν: not fitted ({len(summary['rows'])} scales; a fit needs 3)")
    lines += [
        "",
        f"{nu}; paper: ν ≈ {theirs['nu']}.",
        f"D_KL / L = {summary['ratio_mean']:.3f} ± {summary['ratio_std']:.3f} (mean ± std over "
        f"{s}, population std); paper: {theirs['ratio_mean']} ± {theirs['ratio_std']}.",
    ]
    return "\n".join(lines) + "\n"


def plot(summary, path):
    """log D_KL against log scale: ours with the fitted line, and the paper's points."""
    import matplotlib.pyplot as plt  # Imported here: only the reports draw.

    scales = np.array([r["scale"] for r in summary["rows"]])
    kl = np.array([r["kl"] for r in summary["rows"]])
    noise, s = summary["noise"], SYMBOLS[summary["noise"]]
    theirs = paper.TABLES[noise]
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.loglog(scales, kl, "o", label="this package")
    if summary["fit"]:
        fit = power_law.PowerLawFit(**summary["fit"])
        grid = np.geomspace(scales.min(), scales.max(), 50)
        ax.loglog(grid, fit.predict(grid), "-",
                  label=f"fit: ν = {fit.nu:.3f} ± {fit.nu_stderr:.3f}")
    ax.loglog(paper.SCALES, theirs["kl"], "s", mfc="none", label=f"paper (ν ≈ {theirs['nu']})")
    ax.set_xlabel(s)
    ax.set_ylabel("⟨D_KL[q(z|x) ‖ p(z)]⟩ (nats)")
    ax.set_title(f"{s}-VAE on MNIST: D_KL ~ {s}$^{{-ν}}$")
    ax.legend()
    report_files.save_figure(fig, path)


def write_report(summary, stem):
    """Writes <stem>.json, <stem>.md (the table) and <stem>.png; returns the table."""
    table = markdown_table(summary)
    report_files.write(stem, summary, table, lambda path: plot(summary, path))
    return table
