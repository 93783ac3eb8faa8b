"""Distributed training equals single-device training on the same global batch."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

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
@pytest.mark.parametrize("model", ["sigma_vae", "deen"])
def test_two_replicas_equal_one_device(report, model):
    assert report["replicas"] == 2
    assert report[model]["weights"] < 1e-5
    assert report[model]["metrics"] < 1e-5
    assert "loss" in report[model]["metric_names"] and "mse" in report[model]["metric_names"]


@needs_two_devices
@pytest.mark.parametrize("model", ["sigma_vae", "deen"])
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
