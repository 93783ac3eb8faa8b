"""A sweep trained as one family leaves the run folders that one-at-a-time training leaves."""

import csv
import json
import os

import keras
import numpy as np
import pytest

import keras_svae  # noqa: F401  (registers the classes that load_model needs)
from conftest import WITHOUT_XLA, glue, to_numpy
from keras_svae import data, family_training, training, vae
from keras_svae.experiments import runs

TINY = dict(epochs=2, batch_size=16, train_size=48, test_size=32, latent_dim=4, verbose=0)
# The tests of the loop's bookkeeping (retrain, time limit, divergence, the recorded metrics);
# the first test keeps the default compilation.
LOOP = dict(TINY, **WITHOUT_XLA)
MEMBERS = [("sigma_vae", 0.3), ("alpha_vae", 0.5)]


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_a_family_sweep_trains_the_models_of_the_sequential_sweep(tmp_path, mnist_path):
    """Same initial weights, batches and draws as `runs.train`, one model at a time."""
    family_runs = runs.train_family(str(tmp_path / "family"), MEMBERS, data=mnist_path, **TINY)
    for (model, scale), run in zip(MEMBERS, family_runs):
        single = runs.train(str(tmp_path / "single"), model, scale, data=mnist_path, **TINY)
        ours = keras.saving.load_model(run.model_path)
        theirs = keras.saving.load_model(single.model_path)
        assert isinstance(ours, vae.SigmaVAE) and ours.scale == scale
        for a, b in zip(ours.weights, theirs.weights):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-4, err_msg=b.path)
        for key in ("kl", "mse", "elbo", "loss"):
            assert run.metrics[key] == pytest.approx(single.metrics[key], rel=1e-3)
        history = rows(f"{run.outdir}/history.csv")
        assert [int(r["epoch"]) for r in history] == [0, 1]
        assert {"loss", "kl", "mse", "recon", "elbo", "val_loss", "val_kl"} <= set(history[0])
        report = json.loads(open(f"{run.outdir}/metrics.json").read())
        assert report["family_members"] == 2 and report["epochs_done"] == 2
        assert report["config"]["model"] == model
    # The family's own history holds every member's metrics.
    family_dir = next((tmp_path / "family" / "families").iterdir())
    assert json.loads((family_dir / "members.json").read_text()) == [
        "sigma_vae_0.3", "alpha_vae_0.5"]
    assert {"kl/σ=0.3", "kl/α=0.5", "val_mse/α=0.5"} <= set(rows(family_dir / "history.csv")[0])
    # ... and its TensorBoard logs, per member.
    from tensorboard.backend.event_processing import event_accumulator

    logs = event_accumulator.EventAccumulator(str(family_dir / "logs" / "validation"))
    logs.Reload()
    assert {"epoch_kl/σ=0.3", "epoch_mse/α=0.5"} <= set(logs.Tags()["tensors"])
    # Each member's folder has a single run's TensorBoard logs: scalars, images, hparams.
    for run in family_runs:
        member = {}
        for name in ("validation", "images", ""):
            member[name] = event_accumulator.EventAccumulator(f"{run.outdir}/logs/{name}")
            member[name].Reload()
        assert {"epoch_kl", "epoch_loss"} <= set(member["validation"].Tags()["tensors"])
        images = set(member["images"].Tags()["tensors"])
        assert {"robustness/gaussian_0.5", "samples/prior"} <= images
        assert "_hparams_/session_start_info" in member[""].PluginTagToContent("hparams")


@glue  # File bookkeeping around a family's run folders: fit itself is tested on every backend.
def test_retrain_sets_a_finished_family_aside_and_trains_anew(tmp_path, mnist_path):
    first = runs.train_family(str(tmp_path), MEMBERS, data=mnist_path, **LOOP)
    with pytest.raises(ValueError, match="holds a finished run; pass retrain=True"):
        family_training.train_family(
            [runs.config_for(m, s, data=mnist_path, **LOOP) for m, s in MEMBERS],
            [run.outdir for run in first], str(tmp_path / "f"))
    again = runs.train_family(str(tmp_path), MEMBERS, data=mnist_path, retrain=True, **LOOP)
    for run in again:
        assert len(rows(f"{run.outdir}/history.csv")) == 2  # A new history, not appended.
        kept = list(tmp_path.glob(f"{run.outdir.rstrip('/').split('/')[-1]}.previous-*"))
        assert len(kept) == 1 and (kept[0] / "metrics.json").exists()


def test_the_members_kl_is_what_the_saved_member_evaluates(tmp_path, mnist_path):
    """metrics.json's KL (no draw involved) is the saved last.keras model's own."""
    run = runs.train_family(str(tmp_path), MEMBERS[:1], data=mnist_path, **LOOP)[0]
    model = keras.saving.load_model(run.model_path)
    model.compile(keras.optimizers.Adam())
    x_test = data.load_mnist("test", path=mnist_path)[0][:32]
    assert model.evaluate(x_test, batch_size=32, verbose=0, return_dict=True)["kl"] == (
        pytest.approx(run.metrics["kl"], rel=1e-4))


def test_a_time_limited_family_stops_and_the_rerun_carries_on(tmp_path, mnist_path):
    cut = runs.train_family(str(tmp_path), MEMBERS, time_limit=1e-6, data=mnist_path, **LOOP)
    assert [run.epochs_done for run in cut] == [1, 1]
    for run in cut:
        assert not (tmp_path / run.outdir / "metrics.json").exists()
        partial = json.loads(open(f"{run.outdir}/metrics_partial.json").read())
        assert partial["epochs_done"] == 1 and np.isfinite(partial["test"]["kl"])
        assert len(rows(f"{run.outdir}/history.csv")) == 1
    assert list(tmp_path.glob("families/*/backup"))  # Kept for the rerun.
    with pytest.raises(ValueError, match="part of a family run that has not finished"):
        runs.train(str(tmp_path), *MEMBERS[0], data=mnist_path, **LOOP)
    done = runs.train_family(str(tmp_path), MEMBERS, data=mnist_path, **LOOP)
    for run in done:
        assert run.epochs_done == 2
        assert [int(r["epoch"]) for r in rows(f"{run.outdir}/history.csv")] == [0, 1]
    assert not list(tmp_path.glob("families/*/backup"))  # Removed once finished.
    # Finished runs are found, not trained again.
    stamp = [(tmp_path / f"{name}_{s:g}" / "metrics.json").stat().st_mtime_ns
             for name, s in MEMBERS]
    runs.train_family(str(tmp_path), MEMBERS, data=mnist_path, **LOOP)
    assert stamp == [(tmp_path / f"{name}_{s:g}" / "metrics.json").stat().st_mtime_ns
                     for name, s in MEMBERS]


def test_a_diverged_family_raises_and_leaves_no_backup_to_restore(tmp_path, mnist_path):
    with pytest.raises(FloatingPointError, match="diverged"):
        runs.train_family(str(tmp_path), MEMBERS, data=mnist_path,
                          **{**LOOP, "learning_rate": 1e30})
    assert not list(tmp_path.glob("families/*/backup"))
    assert not list(tmp_path.glob("*/metrics.json"))


def test_bad_family_configs_name_the_problem():
    a = training.TrainConfig(model="sigma_vae", sigma=0.3)
    with pytest.raises(ValueError, match="batch_size"):
        family_training.shared_config([a, training.TrainConfig(sigma=0.5, batch_size=32)])
    with pytest.raises(ValueError, match="not 'deen'"):
        family_training.member_spec(training.TrainConfig(model="deen"))
    with pytest.raises(ValueError, match="at least one member"):
        family_training.shared_config([])
    with pytest.raises(ValueError, match="data_order"):
        family_training.train_family([a], ["x"], "f", data_order="random")
    with pytest.raises(ValueError, match="time_limit must be > 0"):
        family_training.TimeLimit(0)


def test_a_family_folder_keeps_its_name_when_a_field_is_added_at_its_default(tmp_path):
    """A family interrupted before `TrainConfig.encoder` existed resumes from its backup: its
    folder name (the cpu sweep's 5 sigma-VAEs; this name was made by commit c6e839a, before
    the field) is the same; another encoder is another family."""
    sigmas = [0.1, 0.2, 0.3, 0.5, 0.9]
    names = [runs.run_name("sigma_vae", s) for s in sigmas]

    def folder(**extra):
        configs = [runs.config_for("sigma_vae", s, "cpu", data="unused.npz", **extra)
                   for s in sigmas]
        return os.path.basename(runs._family_folder(str(tmp_path), names, configs))

    assert folder() == "5_members_13b5f4e1ff"
    assert folder(encoder="mlp") != folder()
