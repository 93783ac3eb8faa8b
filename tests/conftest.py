"""Shared test setup: the offline MNIST file, and checks every model needs."""

import os
import pathlib
import tempfile

# JAX compiles the same small models in many tests and subprocesses: a persistent
# compilation cache, shared by the xdist workers and the examples they start, saves
# minutes per run. Set before JAX is imported (through keras) so that it applies.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), "keras_svae_jax_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist.npz"

# Tests read MNIST from the shared offline copy unless told otherwise.
os.environ.setdefault("KERAS_SVAE_MNIST", str(SHARED_MNIST))

if keras.backend.backend() == "torch" and os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    # Under pytest-xdist every core runs a worker: one thread each, not one per core each.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_path():
    path = pathlib.Path(os.environ["KERAS_SVAE_MNIST"])
    if not path.is_file():
        pytest.fail(f"MNIST is missing at {path}; set KERAS_SVAE_MNIST to a Keras-layout mnist.npz.")
    return str(path)


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def weights_of(model):
    return [to_numpy(v).copy() for v in model.weights]


def assert_weights_equal(model, before):
    after = weights_of(model)
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


# A small network of the same family, for fast tests.
SMALL = dict(image_shape=(8, 8, 1), latent_dim=4, conv_channels=(4, 8, 8), encoder_units=16,
             decoder_units=32)
