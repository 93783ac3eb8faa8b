"""The universality sweep: nu per network, its split nu = nu_AU + nu_per_unit, the comparison."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from scipy import stats

import keras_svae  # noqa: F401  (registers the classes that load_model needs)
from conftest import REPO, glue
from keras_svae import data, evaluation
from keras_svae.experiments import report_files, runs, universality

SIGMAS = np.array([0.1, 0.2, 0.3, 0.5, 0.9])


def rows_for(nu_active, nu_per_unit, seed, latent_dim=100):
    """Rows whose AU and KL per active unit follow power laws, with seeded scatter."""
    rng = np.random.default_rng(seed)
    active = np.round(30 * SIGMAS**-nu_active * np.exp(rng.normal(0, 0.05, len(SIGMAS))))
    per_unit = 0.5 * SIGMAS**-nu_per_unit * np.exp(rng.normal(0, 0.05, len(SIGMAS)))
    return [dict(scale=float(s), kl=float(a * u), mse=1.0, elbo=-float(a * u) - 1.0,
                 active_units=int(a), units_holding_kl=max(1, int(a) // 2),
                 latent_dim=latent_dim, kl_of_images=float(a * u), images=100)
            for s, a, u in zip(SIGMAS, active, per_unit)]


def test_units_holding_a_share_of_the_kl():
    spectrum = np.array([0.05, 4.0, 1.0, 0.0, 3.0, 2.0])  # Total 10.05; sorted 4, 3, 2, 1, ...
    assert universality.units_holding(spectrum, 0.9) == 4  # 4 + 3 + 2 = 9 < 9.045 <= 10.
    assert universality.units_holding(spectrum, 0.5) == 2  # 7 >= 5.025 > 4.
    assert universality.units_holding(spectrum, 4.0 / 10.05) == 1  # Exactly the top unit's share.
    assert universality.units_holding(spectrum, 1.0) == 5  # The zero unit is never needed.
    assert universality.units_holding(np.full(7, 0.5), 0.9) == 7  # 6 units hold 85.7%.
    assert universality.units_holding([1.0, -1e-17], 0.9) == 1  # Round-off around a zero KL.
    for bad in ([1.0, np.nan], [1.0, -0.5]):
        with pytest.raises(ValueError, match="non-negative"):
            universality.units_holding(bad)


def test_nu_is_the_log_log_slope_and_splits_exactly_into_active_units_and_kl_per_unit():
    rows = rows_for(0.3, 0.9, seed=0)
    summary = universality.summarize({"convnet": rows})["variants"]["convnet"]
    kl = [r["kl_of_images"] for r in rows]
    active = [r["active_units"] for r in rows]
    reference = stats.linregress(np.log(SIGMAS), np.log(kl))
    assert summary["fit"]["nu"] == pytest.approx(-reference.slope, rel=1e-12)
    assert summary["fit"]["nu_stderr"] == pytest.approx(reference.stderr, rel=1e-12)
    assert summary["fit_active_units"]["nu"] == pytest.approx(
        -stats.linregress(np.log(SIGMAS), np.log(active)).slope, rel=1e-12)
    # The split is exact, and each part near the law the rows were made from.
    assert (summary["fit_active_units"]["nu"] + summary["fit_per_unit"]["nu"]
            == pytest.approx(summary["fit"]["nu"], abs=1e-12))
    assert (summary["fit_units_holding"]["nu"] + summary["fit_per_unit_holding"]["nu"]
            == pytest.approx(summary["fit"]["nu"], abs=1e-12))
    assert summary["fit_units_holding"]["nu"] == pytest.approx(-stats.linregress(
        np.log(SIGMAS), np.log([r["units_holding_kl"] for r in rows])).slope, rel=1e-12)
    assert summary["fit_active_units"]["nu"] == pytest.approx(0.3, abs=0.1)
    assert summary["fit_per_unit"]["nu"] == pytest.approx(0.9, abs=0.1)
    assert summary["settings"] == {}


def sweep(reference, delta_nu, scatter, seed):
    """Rows whose KL is the reference's times sigma^-delta_nu, with seeded scatter."""
    rng = np.random.default_rng(seed)
    factors = SIGMAS**-delta_nu * np.exp(rng.normal(0, scatter, len(SIGMAS)))
    return [dict(r, kl=r["kl"] * f, kl_of_images=r["kl_of_images"] * f)
            for r, f in zip(reference, factors)]


def test_each_variant_is_compared_with_the_paper_network_paired_and_with_the_seed_spread():
    reference = rows_for(0.3, 0.9, seed=0)
    variants = {"convnet": reference, "convnet_seed1": sweep(reference, 0.02, 0.01, seed=1),
                "mlp": sweep(reference, 0.30, 0.01, seed=2),
                "latent16": sweep(reference, 0.05, 0.01, seed=3)}
    comparison = universality.summarize(variants)["comparison"]
    x = np.log(SIGMAS)

    def paired(name):  # The reference: scipy's regression of the log ratio on log sigma.
        ratio = [r["kl_of_images"] / q["kl_of_images"] for r, q in zip(variants[name], reference)]
        return stats.linregress(x, np.log(ratio))

    seed1, mlp, small = (comparison["variants"][v] for v in ("convnet_seed1", "mlp", "latent16"))
    d = -paired("convnet_seed1").slope
    assert comparison["seed_spread"] == pytest.approx(abs(d), rel=1e-10)
    assert d == pytest.approx(0.02, abs=0.02)
    for name, entry in [("convnet_seed1", seed1), ("mlp", mlp), ("latent16", small)]:
        fit = paired(name)
        assert entry["delta_nu"] == pytest.approx(-fit.slope, rel=1e-10)
        assert entry["stderr"] == pytest.approx(fit.stderr, rel=1e-10)
        # Paired, delta nu is exactly the difference of the two variants' own nu.
        assert entry["delta_nu"] == pytest.approx(
            universality.summarize({"convnet": reference, name: variants[name]})["variants"][
                name]["fit"]["nu"] - universality.summarize({"convnet": reference})[
                "variants"]["convnet"]["fit"]["nu"], abs=1e-10)
    critical = stats.t.ppf(0.975, 3)  # Five sigmas: 3 degrees of freedom.
    assert mlp["critical_t"] == pytest.approx(critical) and critical == pytest.approx(3.182, abs=1e-3)
    # The second seed against its paired error alone; every other variant adds the spread.
    assert seed1["error"] == pytest.approx(seed1["stderr"]) and not seed1["with_seed_spread"]
    assert mlp["error"] == pytest.approx(np.hypot(mlp["stderr"], d)) and mlp["with_seed_spread"]
    assert mlp["delta_nu"] == pytest.approx(0.30, abs=0.03) and not mlp["agrees"]
    assert mlp["t"] == pytest.approx(abs(mlp["delta_nu"]) / mlp["error"])
    assert small["agrees"] and small["t"] < critical
    assert "convnet" not in comparison["variants"]


def test_identical_sweeps_agree_and_other_sigmas_cannot_be_paired():
    reference = rows_for(0.3, 0.9, seed=0)
    same = universality.summarize({"convnet": reference, "mlp": reference})["comparison"]
    assert same["seed_spread"] is None
    assert same["variants"]["mlp"]["t"] == 0 and same["variants"]["mlp"]["agrees"]
    assert universality.compare({"mlp": {"rows": reference}}) == {}
    with pytest.raises(ValueError, match="same sigmas"):
        universality.summarize({"convnet": reference, "mlp": reference[:4]})


def test_the_report_writes_the_table_json_and_plot(tmp_path):
    summary = universality.summarize({"convnet": rows_for(0.3, 0.9, 0),
                                      "convnet_seed1": rows_for(0.3, 0.9, 1),
                                      "mlp": rows_for(0.1, 1.4, 2)})
    text = universality.write_report(summary, str(tmp_path / "u"))
    assert json.loads((tmp_path / "u.json").read_text())["variants"]["mlp"]["settings"] == {
        "encoder": "mlp"}
    assert (tmp_path / "u.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    nu = summary["variants"]["mlp"]["fit"]["nu"]
    assert f"{nu:.3f}" in text and "encoder=mlp" in text and "Seed spread" in text
    # Each variant drawn: its points and its fitted line, and its AU.
    figure = universality.plot(summary, str(tmp_path / "again.png"))
    kl_axes, au_axes = figure.axes
    assert len(kl_axes.lines) == 6 and len(au_axes.lines) == 6
    mlp_rows = summary["variants"]["mlp"]["rows"]
    assert [list(line.get_ydata()) for line in au_axes.lines[4:]] == [
        [r["active_units"] for r in mlp_rows], [r["units_holding_kl"] for r in mlp_rows]]


def test_a_collapsed_model_leaves_nu_but_no_split():
    rows = rows_for(0.3, 0.9, 0)
    rows[4]["active_units"] = 0  # sigma = 0.9: no active unit, so no KL per active unit.
    summary = universality.summarize({"convnet": rows})
    entry = summary["variants"]["convnet"]
    assert entry["fit"]["nu"] > 0
    assert entry["fit_active_units"] is None and entry["fit_per_unit"] is None
    assert "| convnet | 0.9 |" in universality.markdown(summary)


def test_unknown_variants_are_refused():
    with pytest.raises(ValueError, match="variant must be one of"):
        universality.summarize({"resnet": rows_for(0.3, 0.9, 0)})
    with pytest.raises(ValueError, match="variant must be one of"):
        universality.root_of("runs", "resnet")


def test_variants_live_apart_and_their_settings_win(tmp_path):
    assert universality.root_of("runs", "convnet") == "runs"
    assert universality.root_of("runs", "mlp") == os.path.join("runs", "universality", "mlp")
    models = universality.trained_models(str(tmp_path), "latent16", "cpu", latent_dim=100,
                                         train_size=64)
    config = models.config("sigma_vae", 0.5)
    assert (config.latent_dim, config.train_size, config.epochs) == (16, 64, 5)
    assert universality.trained_models("r", "convnet_seed1").config("sigma_vae", 0.5).seed == 1
    assert universality.trained_models("r", "no_downsampling").config("sigma_vae", 0.5).strides == 1


@glue  # It trains 6 tiny models.
def test_the_example_trains_each_variant_as_a_family_and_reports(tmp_path, mnist_path):
    from test_examples import run_example

    flags = ["--variants=convnet,mlp", "--sigmas=0.3,0.6,0.9", "--epochs=1", "--train_size=256",
             "--test_size=300", "--batch_size=64", "--latent_dim=8", f"--data={mnist_path}",
             f"--root={tmp_path}", f"--report_dir={tmp_path / 'report'}"]
    result = run_example("universality.py", *flags)
    summary = json.loads((tmp_path / "report" / "universality.json").read_text())
    assert set(summary["variants"]) == {"convnet", "mlp"}
    assert "| mlp | encoder=mlp |" in result.stdout
    mlp = keras.saving.load_model(tmp_path / "universality" / "mlp" / "cpu" / "sigma_vae_0.6"
                                  / "last.keras")
    assert mlp.encoder.features.convs == [] and mlp.latent_dim == 8
    assert (tmp_path / "cpu" / "sigma_vae_0.6" / "metrics.json").exists()
    images = data.load_mnist("test", path=mnist_path)[0][:300]
    for variant, entry in summary["variants"].items():
        assert [r["scale"] for r in entry["rows"]] == [0.3, 0.6, 0.9]
        root = tmp_path if variant == "convnet" else tmp_path / "universality" / variant
        for row in entry["rows"]:
            assert row["images"] == 300
            # The counts are the saved model's own, on the same 300 test images.
            model = keras.saving.load_model(root / "cpu" / f"sigma_vae_{row['scale']:g}"
                                            / "last.keras")
            spectrum = evaluation.kl_per_dimension(model, images)
            assert row["active_units"] == model.active_units(images)
            assert row["units_holding_kl"] == universality.units_holding(spectrum)
            assert row["kl_of_images"] == pytest.approx(spectrum.sum(), rel=1e-6)
            # The KL the fit reads is the run's own test KL (the same 300 images).
            assert row["kl_of_images"] == pytest.approx(row["kl"], rel=1e-3)
    # A rerun finds every model trained.
    stamp = os.path.getmtime(tmp_path / "cpu" / "sigma_vae_0.6" / "last.keras")
    run_example("universality.py", *flags)
    assert os.path.getmtime(tmp_path / "cpu" / "sigma_vae_0.6" / "last.keras") == stamp
    # Where the ConvNet's models are gone (another machine), measuring the MLP alone keeps
    # the ConvNet's rows from the report, and trains nothing.
    shutil.rmtree(tmp_path / "cpu")
    mlp_model = tmp_path / "universality" / "mlp" / "cpu" / "sigma_vae_0.6" / "last.keras"
    mlp_stamp = os.path.getmtime(mlp_model)
    run_example("universality.py", *[f for f in flags if not f.startswith("--variants")],
                "--variants=mlp")
    again = json.loads((tmp_path / "report" / "universality.json").read_text())
    assert list(again["variants"]) == ["convnet", "mlp"] and again["training"]["epochs"] == 1
    for variant in ("convnet", "mlp"):
        assert again["variants"][variant]["rows"] == summary["variants"][variant]["rows"]
    assert not (tmp_path / "cpu").exists() and os.path.getmtime(mlp_model) == mlp_stamp
    # Another schedule beside the kept rows is refused before anything trains.
    refused = subprocess.run(
        [sys.executable, str(REPO / "examples" / "universality.py"), "--variants=mlp",
         "--epochs=2", *[f for f in flags if not f.startswith(("--variants", "--epochs"))]],
        capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "trained otherwise" in refused.stderr
    assert os.path.getmtime(mlp_model) == mlp_stamp


def test_an_earlier_reports_variants_are_kept_only_where_they_pair():
    cpu = runs.config_for("sigma_vae", 0.1, "cpu")
    earlier = json.loads(json.dumps(universality.summarize(
        {"convnet": rows_for(0.3, 0.9, 0), "mlp": rows_for(0.1, 1.4, 2)}, cpu)))
    sigmas = list(SIGMAS)
    # The variants not measured now are kept, those measured again are not.
    assert universality.kept_rows(earlier, ["mlp", "latent16"], cpu, sigmas, 100) == {
        "convnet": earlier["variants"]["convnet"]["rows"]}
    assert universality.kept_rows(None, ["mlp"], cpu, sigmas, 100) == {}
    # Nothing to keep: a report of other settings is no obstacle.
    assert universality.kept_rows(earlier, ["convnet", "mlp"], runs.config_for(
        "sigma_vae", 0.1, "paper"), sigmas, 100) == {}
    # How a run was executed is not what it learned; the first sigma is the sweep's.
    assert list(universality.kept_rows(earlier, ["mlp"], runs.config_for(
        "sigma_vae", 0.2, "cpu", data="/x.npz", verbose=1), sigmas, 100)) == ["convnet"]
    for shared in (runs.config_for("sigma_vae", 0.1, "paper"),
                   runs.config_for("sigma_vae", 0.1, "cpu", epochs=1),
                   runs.config_for("sigma_vae", 0.1, "cpu", dataset="fashion_mnist")):
        with pytest.raises(ValueError, match="trained otherwise"):
            universality.kept_rows(earlier, ["latent16"], shared, sigmas, 100)
    with pytest.raises(ValueError, match=r"measured at .*cannot be kept"):
        universality.kept_rows(earlier, ["latent16"], cpu, [0.1, 0.2, 0.3, 0.4, 0.9], 100)
    with pytest.raises(ValueError, match=r"measured at .*cannot be kept"):
        universality.kept_rows(earlier, ["latent16"], cpu, sigmas, 1000)
    with pytest.raises(ValueError, match="does not record its training settings"):
        universality.kept_rows({"variants": earlier["variants"]}, ["latent16"], cpu, sigmas,
                               100)


def test_variants_are_reported_in_one_order_and_unknown_ones_refused():
    summary = universality.summarize({"latent16": rows_for(0.2, 0.7, 3, latent_dim=16),
                                      "convnet": rows_for(0.3, 0.9, 0)})
    assert list(summary["variants"]) == ["convnet", "latent16"]
    with pytest.raises(ValueError, match="variant must be one of"):
        universality.kept_rows({"variants": {"resnet": {}}, "training": {}}, ["mlp"],
                               runs.config_for("sigma_vae", 0.1), list(SIGMAS), 100)


def test_the_reported_summary_is_read_back(tmp_path):
    assert report_files.read(str(tmp_path / "none")) is None
    summary = universality.summarize({"convnet": rows_for(0.3, 0.9, 0)},
                                     runs.config_for("sigma_vae", 0.1))
    universality.write_report(summary, str(tmp_path / "u"))
    assert report_files.read(str(tmp_path / "u")) == json.loads(json.dumps(summary))


def test_the_committed_report_is_what_the_library_writes_from_its_json():
    stem = REPO / "docs" / "universality" / "universality"
    summary = json.loads(stem.with_suffix(".json").read_text())
    assert universality.markdown(summary) == stem.with_suffix(".md").read_text()
    # Its comparison is the one the library computes from its rows today.
    rows = {variant: entry["rows"] for variant, entry in summary["variants"].items()}
    recomputed = universality.summarize(rows)
    again = recomputed["comparison"]
    assert again["seed_spread"] == pytest.approx(summary["comparison"]["seed_spread"])
    for variant, entry in summary["comparison"]["variants"].items():
        assert again["variants"][variant] == pytest.approx(entry)
    # And so are each variant's fits: nu and its split into active units and KL per unit.
    for variant, entry in summary["variants"].items():
        for name, fit in entry.items():
            if name.startswith("fit"):
                assert recomputed["variants"][variant][name] == (
                    None if fit is None else pytest.approx(fit)), (variant, name)
