"""Remark 3's open question: is the KL power law's exponent a property of the data, or of the
network?

Remark 3 of the paper asks whether the power laws D_KL ~ sigma^-nu form a "universality
class". Here a *variant* is a set of `TrainConfig` overrides of the sigma-VAE (`VARIANTS`:
another encoder, stride, latent size or seed). For each variant, `sweep` trains its sigma-VAEs
at `SIGMAS` (as one `SigmaVAEFamily` by default), `measure` reads one model's D_KL, MSE and
ELBO on the test set and its active units (`evaluation.latent_statistics`), and `summarize`
fits nu per variant with `power_law.fit_power_law` and splits it exactly in two:

    log D_KL = log AU + log(D_KL / AU),  so  nu = nu_AU + nu_per_unit,

because a least-squares slope is linear in the response. nu_AU is the part of the power law
that comes from units switching off as sigma grows; nu_per_unit the part from less KL per
active unit (all the units' KL over the number active, so that the split is exact; the
inactive units' KL is a small part of it).

Burda et al.'s threshold counts a unit whose posterior mean varies by more than 0.1 (std)
over the data, however little KL it holds, so at small sigma it counts every unit. The same
split is therefore also made with `KL_SHARE`'s units: the fewest units that hold 90% of the
KL (`units_holding`), nu = nu_units90 + nu_per_unit90.

`compare` tests each variant's nu against the paper network's. Both are fitted at the same
sigmas, and their log-log curves bend alike, so a fit's standard error (the scatter of its 5
points about its own line) mostly measures that shared bend, not the difference. The
comparison is therefore paired: delta nu is minus the slope of log(D_KL / D_KL of the paper's
network) against log sigma (the difference of the two slopes, exactly), with that regression's
standard error. The two seeds of the paper's network add how nu varies from one training run
to the next: their paired difference d is one draw of it, and each variant's delta nu is judged
against sqrt(se^2 + d^2) with Student's t at n - 2 degrees of freedom. The second seed itself
is judged against its paired standard error alone (it defines d).
"""

import dataclasses
import os

import numpy as np
from scipy import stats

from keras_svae import evaluation
from keras_svae.experiments import power_law
from keras_svae.experiments import report_files
from keras_svae.experiments import runs

# The overrides of the cpu schedule's sigma-VAE that make each variant. "convnet" is the
# paper's network with every default: the models the other experiments share.
VARIANTS = {
    "convnet": {},
    "convnet_seed1": {"seed": 1},
    "mlp": {"encoder": "mlp"},
    "no_downsampling": {"strides": 1},
    "latent16": {"latent_dim": 16},
}
SIGMAS = (0.1, 0.2, 0.3, 0.5, 0.9)
REFERENCE, SECOND_SEED = "convnet", "convnet_seed1"
CONFIDENCE = 0.95  # Two-sided, of "the two nu differ".
KL_SHARE = 0.9  # units_holding: the fewest units that hold this share of the KL.


def units_holding(spectrum, share=KL_SHARE):
    """The fewest latent units whose KL (`evaluation.kl_per_dimension`) adds up to `share`
    of the total."""
    ordered = np.sort(np.asarray(spectrum, np.float64))[::-1]
    # A unit's KL is >= 0; float round-off may leave -1e-17 where it is 0. NaN fails too.
    if not np.all(ordered >= -1e-9):
        raise ValueError(f"A KL spectrum holds non-negative numbers; got {spectrum}.")
    ordered = np.maximum(ordered, 0.0)
    return int(np.searchsorted(np.cumsum(ordered), share * ordered.sum() * (1 - 1e-12)) + 1)


def root_of(root, variant):
    """Where a variant's runs live: the experiments' own root for "convnet" (so that its
    models are the ones the other experiments use), <root>/universality/<variant> else."""
    _check_variant(variant)
    return root if variant == REFERENCE else os.path.join(root, "universality", variant)


def trained_models(root, variant, schedule="cpu", **overrides):
    """The variant's `runs.TrainedModels`: `overrides` (data, sizes) with the variant's own
    settings on top (a variant's latent size wins over a --latent_dim)."""
    return runs.TrainedModels(root_of(root, variant), schedule,
                              **{**overrides, **VARIANTS[variant]})


def sweep(models, sigmas=SIGMAS, family=True):
    """Trains (or finds trained) the sigma-VAEs of one variant; a `runs.TrainedRun` each."""
    members = [("sigma_vae", float(s)) for s in sigmas]
    if family:
        return models.train_family(members)
    return [models.train(*member) for member in members]


def measure(model, run, images):
    """One model's row: its test metrics (`run.metrics`: D_KL, MSE, ELBO), and its active
    units, the units holding `KL_SHARE` of its KL, and its total KL on `images`
    (`evaluation.latent_statistics`, one encoder pass)."""
    activity, spectrum = evaluation.latent_statistics(model, images)
    return dict(scale=float(model.scale), kl=float(run.metrics["kl"]),
                mse=float(run.metrics["mse"]), elbo=float(run.metrics["elbo"]),
                active_units=evaluation.count_active(activity),
                units_holding_kl=units_holding(spectrum),
                latent_dim=int(model.latent_dim), kl_of_images=float(spectrum.sum()),
                images=len(images))


def summarize(rows, training=None):
    """Per variant (in `VARIANTS`' order): nu (D_KL ~ sigma^-nu) with its standard error, and
    its split into nu_AU + nu_per_unit (see the module), from {variant: [measure's rows]};
    then `compare`. `training`, the `TrainConfig` the variants share (before their own
    settings), is recorded for `kept_rows`."""
    for variant in rows:
        _check_variant(variant)
    summary = {}
    for variant in sorted(rows, key=list(VARIANTS).index):
        variant_rows = rows[variant]
        scales = [r["scale"] for r in variant_rows]
        kl = np.array([r["kl_of_images"] for r in variant_rows])
        active = np.array([r["active_units"] for r in variant_rows], float)
        holding = np.array([r["units_holding_kl"] for r in variant_rows], float)
        # A model with no active unit has no KL per unit (a collapsed posterior): no split.
        split = bool(np.all(active >= 1))
        summary[variant] = dict(
            settings=VARIANTS[variant], rows=variant_rows, fit=_fit(scales, kl),
            fit_active_units=_fit(scales, active) if split else None,
            fit_per_unit=_fit(scales, kl / active) if split else None,
            fit_units_holding=_fit(scales, holding),
            fit_per_unit_holding=_fit(scales, kl / holding))
    return dict(variants=summary, comparison=compare(summary),
                training=None if training is None else dataclasses.asdict(training))


def kept_rows(earlier, measuring, training, sigmas, images):
    """{variant: rows} of the variants of `earlier` (a summary read back by
    `report_files.read`) that a report of
    `measuring` (the variants measured now) keeps: all the others.

    This is how a variant is added on a machine that no longer holds the others' models.
    A kept variant must have been trained with the same settings (`training`, the
    `TrainConfig` the variants share: schedule, data, sizes) and measured at the same
    `sigmas` on as many test `images`, or the paired comparison would pair unlike sweeps:
    that is refused by name, before anything trains.
    """
    keep = [v for v in (earlier or {}).get("variants", {}) if v not in measuring]
    for variant in keep:
        _check_variant(variant)
    if not keep:
        return {}
    hint = " (--nokeep_reported writes the measured variants alone; or use another report_dir)"
    if "training" not in earlier:
        raise ValueError(f"The earlier report does not record its training settings, so its "
                         f"{keep} cannot be kept beside these{hint}.")
    changed = runs.differences(earlier["training"], training)
    changed.pop("sigma", None)  # The first sigma of each sweep: the sigmas are compared below.
    if changed:
        raise ValueError(f"The earlier report's {keep} were trained otherwise (stored, now): "
                         f"{changed}{hint}.")
    wanted = ([float(s) for s in sigmas], [int(images)])
    for variant in keep:
        if _sweep_of(earlier["variants"][variant]["rows"]) != wanted:
            raise ValueError(
                f"The reported {variant} was measured at (sigmas, test images) "
                f"{_sweep_of(earlier['variants'][variant]['rows'])}, this call at {wanted}: it "
                f"cannot be kept beside them{hint}.")
    return {v: earlier["variants"][v]["rows"] for v in keep}


def _sweep_of(rows):
    return [r["scale"] for r in rows], sorted({r["images"] for r in rows})


def _fit(scales, values):
    return dataclasses.asdict(power_law.fit_power_law(scales, values))


def paired_difference(rows, reference_rows):
    """delta nu of two sweeps at the same sigmas: minus the slope of log(D_KL / D_KL of the
    reference) on log sigma, with its standard error and the number of sigmas."""
    scales = [r["scale"] for r in rows]
    if scales != [r["scale"] for r in reference_rows]:
        raise ValueError(f"A paired comparison needs the same sigmas; got {scales} and "
                         f"{[r['scale'] for r in reference_rows]}.")
    ratio = [r["kl_of_images"] / q["kl_of_images"] for r, q in zip(rows, reference_rows)]
    fit = power_law.fit_power_law(scales, ratio)
    return dict(delta_nu=fit.nu, stderr=fit.nu_stderr, points=len(scales))


def compare(summary):
    """Each variant's nu against the paper network's, paired (see the module): delta nu, its
    standard error, the error it is judged by, t and whether they agree at `CONFIDENCE`."""
    if REFERENCE not in summary:
        return {}
    reference = summary[REFERENCE]["rows"]
    spread = (abs(paired_difference(summary[SECOND_SEED]["rows"], reference)["delta_nu"])
              if SECOND_SEED in summary else None)
    out = {}
    for variant, entry in summary.items():
        if variant == REFERENCE:
            continue
        paired = paired_difference(entry["rows"], reference)
        seeds = 0.0 if spread is None or variant == SECOND_SEED else spread
        error = float(np.hypot(paired["stderr"], seeds))
        delta = paired["delta_nu"]
        t = abs(delta) / error if error > 0 else (0.0 if delta == 0 else float("inf"))
        critical = float(stats.t.ppf(0.5 + CONFIDENCE / 2, paired["points"] - 2))
        out[variant] = dict(delta_nu=delta, stderr=paired["stderr"], error=error, t=t,
                            critical_t=critical, agrees=bool(t <= critical),
                            with_seed_spread=bool(seeds))
    return dict(seed_spread=spread, variants=out)


def markdown(summary):
    """The tables: nu per variant with its split and comparison, then each variant's rows."""
    comparison = summary["comparison"].get("variants", {})
    spread = summary["comparison"].get("seed_spread")
    share = f"{KL_SHARE:.0%}"
    lines = [f"| variant | settings | ν ± s.e. | r² | ν_AU | ν_per AU | ν_U{share} | "
             f"ν_per U{share} | Δν vs {REFERENCE} (paired) | error of Δν | t (critical) | "
             f"agrees ({CONFIDENCE:.0%}) |", "|---" * 12 + "|"]
    for variant, entry in summary["variants"].items():
        fit, c = entry["fit"], comparison.get(variant)
        settings = ", ".join(f"{k}={v}" for k, v in entry["settings"].items()) or "the paper's"
        split = [f"{entry[key]['nu']:.3f}" if entry[key] else "–"
                 for key in ("fit_active_units", "fit_per_unit", "fit_units_holding",
                             "fit_per_unit_holding")]
        versus = ([f"{c['delta_nu']:+.3f} ± {c['stderr']:.3f}", f"{c['error']:.3f}"
                   + ("" if c["with_seed_spread"] else " (paired s.e. only)"),
                   f"{c['t']:.2f} ({c['critical_t']:.2f})", "yes" if c["agrees"] else "no"]
                  if c else ["–"] * 4)
        lines.append(f"| {variant} | {settings} | {fit['nu']:.3f} ± {fit['nu_stderr']:.3f} "
                     f"| {fit['r_squared']:.4f} | " + " | ".join(split + versus) + " |")
    if spread is not None:
        lines += ["", f"Δν: minus the slope of log(D_KL / D_KL of {REFERENCE}) on log σ, with "
                  f"its standard error. Seed spread d = |Δν({SECOND_SEED})| = {spread:.3f}; the "
                  "error of Δν is sqrt(s.e.² + d²) (for the second seed, its s.e. only)."]
    lines += ["", f"| variant | σ | ⟨D_KL⟩ | ⟨MSE⟩ | ⟨L⟩ | AU | D_KL / AU | U{share} | "
              f"D_KL / U{share} |", "|---" * 9 + "|"]
    for variant, entry in summary["variants"].items():
        for r in entry["rows"]:
            per_unit = (f"{r['kl_of_images'] / r['active_units']:.3g}" if r["active_units"]
                        else "–")
            lines.append(f"| {variant} | {r['scale']:g} | {r['kl']:.3g} | {r['mse']:.3g} "
                         f"| {r['elbo']:.4g} | {r['active_units']} / {r['latent_dim']} "
                         f"| {per_unit} | {r['units_holding_kl']} "
                         f"| {r['kl_of_images'] / r['units_holding_kl']:.3g} |")
    first = next(iter(summary["variants"].values()))["rows"][0]
    lines += ["", f"⟨D_KL⟩, ⟨MSE⟩, ⟨L⟩: the test metrics of each run. AU (Cov_x(E_q[z_j]) > "
              f"{evaluation.ACTIVE_THRESHOLD}) and the KL that ν is fitted to: on "
              f"{first['images']} test images. ν_AU and ν_per AU are the power-law exponents "
              "of AU and of D_KL / AU; they add up to ν exactly (–: a model without active "
              f"units). U{share}: the fewest units that hold {share} of the KL; ν_U{share} + "
              f"ν_per U{share} = ν likewise."]
    return "\n".join(lines) + "\n"


def plot(summary, path):
    """Two log-log panels against sigma: D_KL with each variant's fit, and AU with the units
    holding `KL_SHARE` of the KL. Returns the (closed) figure."""
    import matplotlib.pyplot as plt  # Imported here: only the report draws.

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for variant, entry in summary["variants"].items():
        scales = np.array([r["scale"] for r in entry["rows"]])
        kl = [r["kl_of_images"] for r in entry["rows"]]
        fit = entry["fit"]
        line, = left.loglog(scales, kl, "o", label=f"{variant}: ν = {fit['nu']:.3f} ± "
                            f"{fit['nu_stderr']:.3f}")
        grid = np.geomspace(scales.min(), scales.max(), 50)
        left.loglog(grid, power_law.PowerLawFit(**fit).predict(grid), "-",
                    color=line.get_color())
        right.loglog(scales, [r["active_units"] for r in entry["rows"]], "o-",
                     color=line.get_color(), label=f"{variant}: AU")
        right.loglog(scales, [r["units_holding_kl"] for r in entry["rows"]], "s--",
                     color=line.get_color(), label=f"{variant}: U{KL_SHARE:.0%}")
    left.set(xlabel="σ", ylabel="⟨D_KL⟩ (nats)", title="D_KL ~ σ^-ν per network")
    right.set(xlabel="σ", ylabel="units", title=f"AU(σ), and the units holding {KL_SHARE:.0%} "
              "of the KL")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    return report_files.save_figure(fig, path)


def write_report(summary, stem):
    """<stem>.json, <stem>.md and <stem>.png; returns the markdown."""
    text = markdown(summary)
    report_files.write(stem, summary, text, lambda path: plot(summary, path))
    return text


def _check_variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}.")
