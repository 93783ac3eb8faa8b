"""The experiments' schedules, run folders and the shared trained models."""

import json

import pytest

from conftest import glue
from keras_svae import experiments


def test_schedules_set_the_training_config():
    paper = experiments.config_for("sigma_vae", 0.3, "paper")
    assert (paper.epochs, paper.batch_size, paper.learning_rate) == (100, 16, 1e-4)
    assert paper.sigma == 0.3 and paper.model == "sigma_vae"
    cpu = experiments.config_for("alpha_vae", 0.4, "cpu", train_size=100)
    assert (cpu.alpha, cpu.batch_size, cpu.learning_rate, cpu.train_size) == (0.4, 128, 1e-3, 100)
    assert experiments.config_for("deen", 0.6).sigma == 0.6


def test_run_names():
    assert experiments.run_name("sigma_vae", 0.9) == "sigma_vae_0.9"
    assert experiments.run_name("alpha_vae", 0.1) == "alpha_vae_0.1"
    assert experiments.run_name("vanilla_vae") == "vanilla_vae"
    with pytest.raises(ValueError, match="needs a scale"):
        experiments.run_name("deen")
    with pytest.raises(ValueError, match="model must be one of"):
        experiments.run_name("beta_vae", 1.0)
    with pytest.raises(ValueError, match="schedule must be one of"):
        experiments.config_for("sigma_vae", 0.5, "gpu")


@glue  # File bookkeeping around runs.train: fit itself is tested on every backend.
def test_train_trains_once_and_then_finds_the_run(tmp_path, mnist_path):
    tiny = dict(data=mnist_path, epochs=1, train_size=64, test_size=250, batch_size=32,
                latent_dim=4, verbose=0)
    first = experiments.train(str(tmp_path), "sigma_vae", 0.5, **tiny)
    assert first.outdir.endswith("sigma_vae_0.5") and first.wall_seconds > 0
    again = experiments.train(str(tmp_path), "sigma_vae", 0.5, **tiny)
    assert again.metrics == first.metrics and again.wall_seconds == first.wall_seconds
    report = json.loads((tmp_path / "sigma_vae_0.5" / "metrics.json").read_text())
    assert report["config"]["sigma"] == 0.5
    # A run made with other settings is never passed off as this one.
    with pytest.raises(ValueError, match=r"other settings.*'epochs': \(1, 2\)"):
        experiments.train(str(tmp_path), "sigma_vae", 0.5, **dict(tiny, epochs=2))
    # Presentation-only settings do not count.
    assert experiments.train(str(tmp_path), "sigma_vae", 0.5, **dict(tiny, verbose=1)).metrics \
        == first.metrics


def test_an_interrupted_run_with_other_settings_is_not_resumed(tmp_path, mnist_path):
    tiny = dict(data=mnist_path, epochs=1, train_size=64, test_size=250, batch_size=32,
                latent_dim=4, verbose=0)
    outdir = tmp_path / "alpha_vae_0.3"
    outdir.mkdir()
    (outdir / "experiment_config.json").write_text(json.dumps(
        {"config": vars(experiments.config_for("alpha_vae", 0.3, **dict(tiny, seed=5)))}))
    with pytest.raises(ValueError, match=r"'seed': \(5, 0\)"):
        experiments.train(str(tmp_path), "alpha_vae", 0.3, **tiny)
    assert not (outdir / "metrics.json").exists()


@glue  # File bookkeeping around runs.train: fit itself is tested on every backend.
def test_trained_models_train_what_is_missing_once_and_load_it(tmp_path, mnist_path):
    tiny = dict(data=mnist_path, epochs=1, train_size=64, test_size=250, batch_size=32,
                latent_dim=4, verbose=0)
    models = experiments.TrainedModels(str(tmp_path), "cpu", **tiny)
    assert models.folder == str(tmp_path / "cpu")
    assert models.config("deen", 0.6).sigma == 0.6 and models.config("deen", 0.6).epochs == 1
    model = models.load("sigma_vae", 0.5)
    assert model.scale == 0.5 and model.latent_dim == 4
    assert models.load("sigma_vae", 0.5) is model  # Loaded once.
    stamp = (tmp_path / "cpu" / "sigma_vae_0.5" / "metrics.json").stat().st_mtime_ns
    again = experiments.TrainedModels(str(tmp_path), "cpu", **tiny).load("sigma_vae", 0.5)
    assert again.scale == 0.5  # Found, not retrained:
    assert (tmp_path / "cpu" / "sigma_vae_0.5" / "metrics.json").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="schedule must be one of"):
        experiments.TrainedModels(str(tmp_path), "gpu")
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        experiments.TrainedModels(str(tmp_path), "cpu", epoch=3)  # A misspelt setting.
