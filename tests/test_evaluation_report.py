"""The evaluation report of trained VAEs: its numbers, table and panels."""

import json

import numpy as np
import pytest

from conftest import SMALL
from keras_svae import SigmaVAE
from keras_svae.experiments import evaluation_report


def test_a_models_report_holds_consistent_numbers_and_panels(tmp_path, rng):
    model = SigmaVAE(scale=0.5, seed=0, **SMALL)
    images = rng.uniform(size=(12,) + SMALL["data_shape"]).astype("float32")
    result = evaluation_report.evaluate(model, images, k=8, seed=1)
    assert result["images"] == 12 and result["k"] == 8 and result["latent_dim"] == 4
    assert sum(result["kl_per_dimension"]) == pytest.approx(result["kl"], rel=1e-6)
    assert result["kl_per_dimension"] == sorted(result["kl_per_dimension"], reverse=True)
    assert 0 <= result["active_units"] <= 4
    # Each number is the library's own measure of these images, with the same seed.
    assert result["log_px"] == pytest.approx(model.log_likelihood(images, k=8, seed=1).mean())
    assert result["elbo"] == pytest.approx(model.log_likelihood(images, k=1, seed=1).mean())
    assert result["log_px"] != pytest.approx(result["elbo"])
    assert result["active_units"] == model.active_units(images)
    assert result["kl_per_dimension"] == pytest.approx(
        sorted(model.kl_per_dimension(images), reverse=True))
    d = np.prod(SMALL["data_shape"])
    assert result["log_px_bits_per_dim"] == pytest.approx(-result["log_px"] / (d * np.log(2)))
    assert result["elbo_bits_per_dim"] == pytest.approx(-result["elbo"] / (d * np.log(2)))
    table = evaluation_report.write_report({"σ=0.5": result}, str(tmp_path / "evaluation"))
    assert "| σ=0.5 |" in table and "(k = 8, on 12 test images)" in table
    # Models measured at different k: each one's k is named.
    mixed = evaluation_report.markdown_table({"a": result, "b": dict(result, k=3)})
    assert "(a: k = 8, on 12 test images; b: k = 3, on 12 test images)" in mixed
    assert json.loads((tmp_path / "evaluation.json").read_text())["σ=0.5"] == result
    assert (tmp_path / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    paths = evaluation_report.write_panels(model, images, str(tmp_path / "m"), "σ=0.5", units=2,
                                           steps=4)
    assert all(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_the_plot_draws_every_noise_model_and_a_model_without_scale(tmp_path, rng):
    images = rng.uniform(size=(12,) + SMALL["data_shape"]).astype("float32")
    results = {name: evaluation_report.evaluate(SigmaVAE(noise=noise, scale=scale, seed=0, **SMALL),
                                                images, k=2, seed=1)
               for name, noise, scale in [("σ=0.5", "gaussian", 0.5), ("α=0.5", "laplace", 0.5),
                                          ("vanilla", "bernoulli", None)]}
    assert results["vanilla"]["scale"] is None
    figure = evaluation_report.plot(results, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    au_axes, spectrum_axes = figure.axes
    # One AU point each for sigma and alpha, and the vanilla VAE's horizontal line.
    assert [list(line.get_ydata()) for line in au_axes.lines[:2]] == [
        [results["σ=0.5"]["active_units"]], [results["α=0.5"]["active_units"]]]
    assert len(au_axes.lines) == 3
    assert [len(line.get_ydata()) for line in spectrum_axes.lines] == [4, 4, 4]


@pytest.mark.parametrize("folder", ["evaluation", "evaluation/paper"])
def test_the_committed_report_is_what_the_library_writes_from_its_json(folder):
    from conftest import REPO

    stem = REPO / "docs" / folder / "evaluation"
    results = json.loads(stem.with_suffix(".json").read_text())
    assert evaluation_report.markdown_table(results) == stem.with_suffix(".md").read_text()
