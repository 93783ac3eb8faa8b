"""Runs: TensorBoard views, rerun protection, and resuming a killed run exactly."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import keras_svae  # noqa: F401  (registers the classes that load_model needs)
from conftest import REPO, WITHOUT_XLA, glue
from keras_svae import training, training_time
from keras_svae.training import TrainConfig


def tiny_config(mnist_path, **overrides):
    fields = dict(model="sigma_vae", sigma=0.9, epochs=2, batch_size=64, train_size=256,
                  test_size=100, latent_dim=8, data=mnist_path, log_every=2, verbose=0)
    return training.TrainConfig(**{**fields, **overrides})


def accumulator(path):
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={event_accumulator.TENSORS: 0})
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, mnist_path):
    outdir = tmp_path_factory.mktemp("runs") / "sigma"
    metrics = training.train_and_evaluate(tiny_config(mnist_path), str(outdir))
    return outdir, metrics


def test_tensorboard_has_scalars_images_and_hparams(finished_run):
    outdir, _ = finished_run
    logs = outdir / "logs"
    # TF2 summaries, scalars included, are tensor events to this reader.
    train_tags = set(accumulator(logs / "train").Tags()["tensors"])
    metrics = {"loss", "recon", "kl", "mse", "elbo"}
    assert {f"epoch_{m}" for m in metrics} | {f"step_{m}" for m in metrics} <= train_tags
    assert {f"epoch_{m}" for m in metrics} <= set(accumulator(logs / "validation").Tags()["tensors"])

    images = accumulator(logs / "images")
    expected = {"robustness/gaussian_0.5": (8 * 28, 3 * 28), "robustness/gaussian_0.9": (8 * 28, 3 * 28),
                "robustness/laplace_0.4": (8 * 28, 3 * 28),
                "robustness/salt_and_pepper_0.5": (8 * 28, 3 * 28), "samples/prior": (4 * 28, 4 * 28)}
    assert set(expected) <= set(images.Tags()["tensors"])
    for tag, (width, height) in expected.items():
        events = images.Tensors(tag)
        assert [e.step for e in events] == [0, 1]  # One grid per epoch.
        # An image summary holds [width, height, PNG...] as strings.
        size = tuple(int(v) for v in events[-1].tensor_proto.string_val[:2])
        assert size == (width, height), tag

    content = accumulator(logs).PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    recorded = start.session_start_info.hparams
    assert recorded["model"].string_value == "sigma_vae"
    assert recorded["sigma"].number_value == pytest.approx(0.9)


def test_the_training_time_read_from_the_logs_fits_in_the_runs_wall_time(finished_run):
    outdir, _ = finished_run
    clock = training_time.from_logs(outdir / "logs")
    assert clock["processes"] == 1 and clock["epochs"] == 2
    wall = json.loads((outdir / "metrics.json").read_text())["wall_seconds"]
    # Opening the writers to the last epoch: less than the whole call, not nothing.
    assert 0 < clock["median_epoch_seconds"] <= clock["seconds"] < wall


def test_run_folder_holds_checkpoints_history_and_metrics(finished_run):
    outdir, metrics = finished_run
    for name in ("last.keras", "best.keras", "history.csv", "metrics.json"):
        assert (outdir / name).is_file(), name
    assert not (outdir / "backup").exists() or not any((outdir / "backup").iterdir())
    report = json.loads((outdir / "metrics.json").read_text())
    assert report["test"] == metrics
    assert len((outdir / "history.csv").read_text().strip().splitlines()) == 1 + 2  # 2 epochs.


@glue  # File bookkeeping around runs.train: fit itself is tested on every backend.
def test_a_finished_run_is_not_retrained_unless_asked(tmp_path, mnist_path):
    outdir = tmp_path / "run"
    config = tiny_config(mnist_path, epochs=1)
    first = training.train_and_evaluate(config, str(outdir))
    stamp = os.path.getmtime(outdir / "last.keras")
    assert training.train_and_evaluate(config, str(outdir)) == first
    assert os.path.getmtime(outdir / "last.keras") == stamp
    training.train_and_evaluate(config, str(outdir), retrain=True)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.previous-")]
    assert len(kept) == 1 and (kept[0] / "metrics.json").is_file()
    assert (outdir / "metrics.json").is_file()


def test_divergence_raises_and_does_not_mark_the_run_finished(tmp_path, mnist_path):
    config = tiny_config(mnist_path, epochs=3, learning_rate=1e30)
    with pytest.raises(FloatingPointError, match="NaN"):
        training.train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run" / "metrics.json").exists()


FLAGS = ["--model=sigma_vae", "--sigma=0.9", "--epochs=3", "--batch_size=32", "--train_size=256",
         "--test_size=100", "--latent_dim=8", "--verbose=0", "--seed=3"]
FLAGS += [f"--{name}={value}" for name, value in WITHOUT_XLA.items()]  # It tests the resume.


def train_command(outdir, mnist_path):
    return [sys.executable, str(REPO / "examples" / "train.py"), *FLAGS, f"--data={mnist_path}",
            f"--outdir={outdir}"]


def _backed_up(metadata):
    """True once BackupAndRestore has finished writing an epoch's metadata."""
    try:
        return "epoch" in json.loads(metadata.read_text())
    except (OSError, ValueError):
        return False


def _epochs_run(output):
    """The epochs (1-based) a `--verbose=2` run printed as "Epoch k/N"."""
    return [int(k) for k in re.findall(r"^Epoch (\d+)/\d+$", output, flags=re.MULTILINE)]


def _history_epochs(path):
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, mnist_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    killed = tmp_path / "killed"
    process = subprocess.Popen(train_command(killed, mnist_path), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backup = killed / "backup" / "training_metadata.json"
    deadline = time.time() + 300
    while not _backed_up(backup) and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert _backed_up(backup), "no epoch was backed up within the deadline"
    process.send_signal(signal.SIGKILL)  # Mid-run, after the first epoch's backup.
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "metrics.json").exists()
    finished = json.loads(backup.read_text())["epoch"]  # Epochs finished: the next to run.
    # Killed within 20 ms of the first backup, long before the second epoch ends: exactly one
    # epoch done, so a restart would show epoch 1 again and a resume shows epochs 2 and 3.
    assert finished == 1, finished

    # The same command again, printing its epochs: it must run only those after the backup.
    # (A run restarted from scratch ends on the same weights, so the weights alone cannot
    # tell a resume from a restart.)
    rerun = subprocess.run([*train_command(killed, mnist_path), "--verbose=2"], env=env,
                           check=True, capture_output=True, text=True, timeout=600)
    ran = _epochs_run(rerun.stdout)
    # Resumed, not restarted (no epoch 1), and trained to the end (epoch 3).
    assert ran == [2, 3], rerun.stdout
    # history.csv: the killed run's rows, then the resumed ones, no epoch twice.
    epochs = _history_epochs(killed / "history.csv")
    assert epochs == sorted(set(epochs)) and epochs[-1] == 2, epochs

    whole = tmp_path / "whole"
    subprocess.run(train_command(whole, mnist_path), env=env, check=True, capture_output=True,
                   timeout=600)
    resumed = keras.saving.load_model(killed / "last.keras").get_weights()
    straight = keras.saving.load_model(whole / "last.keras").get_weights()
    for a, b in zip(resumed, straight):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert (json.loads((killed / "metrics.json").read_text())["test"]["loss"] == pytest.approx(
        json.loads((whole / "metrics.json").read_text())["test"]["loss"], rel=1e-5))


# Compile settings ------------------------------------------------------------------------------


def test_fastest_compile_settings_follow_the_measured_table():
    for model, table in (("sigma_vae", training.FASTEST), ("deen", training.FASTEST_DEEN)):
        fastest = table[keras.backend.backend()]
        config = TrainConfig(model=model, batch_size=16)  # The paper's batch.
        assert training.compile_settings(config) == (
            fastest["jit_compile"], fastest["steps_per_execution"])
    overridden = TrainConfig(jit_compile="false", steps_per_execution=7)
    assert training.compile_settings(overridden) == (False, 7)
    assert training.compile_settings(TrainConfig(jit_compile="auto"))[0] == "auto"
    assert training.compile_settings(TrainConfig(jit_compile="true"))[0] is True


def test_several_tf_replicas_turn_xla_off(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    assert training.compile_settings(TrainConfig(), replicas=2)[0] is False
    assert training.compile_settings(TrainConfig(jit_compile="true"), replicas=2)[0] is False
    assert training.compile_settings(TrainConfig(), replicas=1)[0] is True


def test_tensorflow_uses_xla_for_the_vaes_at_small_batches_only(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    small, large = training.TF_XLA_MAX_BATCH, training.TF_XLA_MAX_BATCH + 1
    assert training.compile_settings(TrainConfig(batch_size=small)) == (True, 100)
    assert training.compile_settings(TrainConfig(batch_size=large)) == (False, 100)
    assert training.compile_settings(TrainConfig(model="deen", batch_size=small))[0] is False
    # An explicit choice is kept whatever the batch size.
    assert training.compile_settings(TrainConfig(batch_size=large, jit_compile="true"))[0] is True


@pytest.mark.parametrize("field, value, match", [
    ("jit_compile", "yes", "jit_compile must be one of"),
    ("steps_per_execution", -1, "steps_per_execution must be >= 0"),
])
def test_bad_compile_settings(field, value, match):
    with pytest.raises(ValueError, match=match):
        training.compile_settings(TrainConfig(**{field: value}))


def test_a_batch_that_does_not_split_over_the_replicas_is_refused(monkeypatch):
    import contextlib
    monkeypatch.setattr(training, "device_scope", lambda config: (contextlib.nullcontext(), 3))
    with pytest.raises(ValueError, match="batch_size=16 does not split evenly over 3 replicas"):
        training.compiled_model(TrainConfig(batch_size=16), lambda: keras.Sequential([]))
    model, replicas = training.compiled_model(TrainConfig(batch_size=18),
                                              lambda: keras.Sequential([]))
    assert replicas == 3 and model.compiled


def test_the_test_set_comes_in_order_and_whole():
    images = np.arange(8 * 4, dtype="float32").reshape(8, 2, 2, 1) / 32.0
    for replicas in (1, 2):  # Fewer than 250 images: one batch of them all, also when the
        # batches must be full for the replicas.
        batches = [np.asarray(b) for b in training.test_dataset(images, replicas)]
        assert [len(b) for b in batches] == [8]
        np.testing.assert_array_equal(batches[0], images)
    many = np.zeros((600, 2, 2, 1), "float32")
    assert [len(b) for b in training.test_dataset(many, replicas=1)] == [250, 250, 100]
    assert [len(b) for b in training.test_dataset(many, replicas=2)] == [250, 250]


def test_json_and_models_are_written_whole(tmp_path):
    path = tmp_path / "deep" / "metrics.json"
    path.parent.mkdir()
    training.write_json_atomically(str(path), {"kl": 1.5})
    assert json.loads(path.read_text()) == {"kl": 1.5}
    assert os.listdir(path.parent) == ["metrics.json"]  # No partial file left behind.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    target = tmp_path / "new" / "last.keras"  # The folder is made.
    training.save_atomically(model, str(target))
    assert os.listdir(target.parent) == ["last.keras"]


@pytest.mark.parametrize("model, noise, scale", [
    ("sigma_vae", "gaussian", 0.3), ("alpha_vae", "laplace", 0.4),
    ("vanilla_vae", "bernoulli", None),
])
def test_each_vae_is_named_with_its_noise_and_built_at_its_scale(model, noise, scale):
    config = TrainConfig(model=model, sigma=0.3, alpha=0.4, beta=2.0, latent_dim=4)
    assert training.noise_of(model) == noise and training.model_of(noise) == model
    assert training.scale_of(config) == scale
    built = training.build_model(config, (8, 8, 1))
    assert (built.noise, built.scale, built.beta, built.latent_dim) == (noise, scale, 2.0, 4)


def test_deen_and_unknown_names_are_refused_where_they_have_no_meaning():
    assert training.scale_of(TrainConfig(model="deen", sigma=0.6)) == 0.6
    assert training.build_model(TrainConfig(model="deen", sigma=0.6), (8, 8, 1)).sigma == 0.6
    with pytest.raises(ValueError, match="deen has no imaginary noise model"):
        training.noise_of("deen")
    with pytest.raises(ValueError, match="noise must be one of .*'gaussian'.*got 'poisson'"):
        training.model_of("poisson")
    with pytest.raises(ValueError, match="model must be one of .*got 'beta_vae'"):
        training.scale_field("beta_vae")
