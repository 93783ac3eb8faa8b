"""Distributed training equals single-device training on the same global batch."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_svae  # noqa: F401  (registers the classes that load_model needs)
from conftest import REPO, to_numpy
from keras_svae import distribution

BACKEND = keras.backend.backend()


@pytest.fixture(scope="module")
def report():
    """Two devices (TF: MirroredStrategy on 2 logical CPUs; JAX: DataParallel on 2 host
    devices) against one, in a fresh process that fixes the device count first."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(REPO / "tests" / "multidevice_run.py")],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


needs_two_devices = pytest.mark.skipif(
    BACKEND not in ("tensorflow", "jax"),
    reason="multi-device training is through tf.distribute (TensorFlow) or "
           "keras.distribution (JAX); PyTorch runs on one device here")


@needs_two_devices
@pytest.mark.parametrize("model", ["sigma_vae", "deen", "family"])
def test_two_replicas_equal_one_device(report, model):
    assert report["replicas"] == 2
    assert report[model]["weights"] < 1e-5
    assert report[model]["metrics"] < 1e-5
    mse = "mse/σ=0.5" if model == "family" else "mse"
    assert "loss" in report[model]["metric_names"] and mse in report[model]["metric_names"]


@needs_two_devices
@pytest.mark.parametrize("model", ["sigma_vae", "deen", "family"])
def test_replicas_draw_different_noise(report, model):
    assert report[model]["replicas_draw_differently"]


def test_on_one_device_nothing_is_scaled_or_sliced():
    assert distribution.replica_context() == (0, 1)
    assert float(to_numpy(distribution.scale_loss(keras.ops.convert_to_tensor(3.0)))) == 3.0
    a = to_numpy(distribution.normal((3, 2), "float32", 5))
    np.testing.assert_array_equal(a, to_numpy(keras.random.normal((3, 2), seed=5)))


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="strategy must be one of"):
        distribution.tf_strategy("parameter_server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(BACKEND != "jax", reason="multi-worker training is JAX's multi-process "
                    "runtime (README, Scaling out); it runs once, in the JAX pass")
def test_two_workers_on_loopback_train_to_the_same_weights(tmp_path, mnist_path):
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "jax"}
    workers = [
        subprocess.Popen(
            [sys.executable, str(REPO / "examples" / "train.py"), "--model=sigma_vae",
             "--sigma=0.9", "--epochs=1", "--batch_size=32", "--train_size=256", "--test_size=100",
             "--latent_dim=8", "--verbose=0", f"--data={mnist_path}", "--data_parallel",
             "--num_processes=2", f"--process_id={rank}", f"--coordinator_address={address}",
             f"--outdir={tmp_path / f'worker{rank}'}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for rank in (0, 1)
    ]
    try:
        outputs = [w.communicate(timeout=300) for w in workers]
    finally:
        for w in workers:  # Bounded in time: never leave a worker behind.
            w.kill()
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    weights = [keras.saving.load_model(tmp_path / f"worker{rank}" / "last.keras").get_weights()
               for rank in (0, 1)]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    # Both trained (a finished epoch each) and report the same test metrics.
    reports = [json.loads((tmp_path / f"worker{rank}" / "metrics.json").read_text())["test"]
               for rank in (0, 1)]
    assert reports[0] == reports[1] and np.isfinite(reports[0]["loss"])
    assert all((tmp_path / f"worker{rank}" / "history.csv").read_text().count("\n") == 2
               for rank in (0, 1))
