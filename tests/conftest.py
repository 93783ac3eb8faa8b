"""Shared test setup: where MNIST comes from, and checks every model needs.

MNIST, first match wins: the file named by $KERAS_SVAE_MNIST; the offline copy
at ../shared/data/mnist.npz beside the repository; tensorflow_datasets, which
downloads once into its cache (written here as a Keras-layout npz in the temp
directory, so that every test and example reads one file). The lookup runs
once, in pytest's main process; xdist workers and the examples' subprocesses
inherit the result through the environment. With none available, every test
that needs MNIST fails with `data.HOW_TO_PROVIDE`.
"""

import importlib.util
import os
import pathlib
import tempfile
import zlib

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

from keras_svae import data, training_time  # noqa: E402
from tensorboard.compat.proto.event_pb2 import Event  # noqa: E402
from tensorboard.summary.writer.record_writer import RecordWriter  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist.npz"
# Set by the main process when no MNIST could be found: the reason, for every worker.
MNIST_ERROR_VAR = "KERAS_SVAE_TESTS_MNIST_ERROR"

if keras.backend.backend() == "torch" and os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    # Under pytest-xdist every core runs a worker: one thread each, not one per core each.
    torch.set_num_threads(1)


# Glue tests run the example binaries and the experiments end to end, or check the file
# bookkeeping around a run (a finished run found, not retrained; retrain setting it
# aside): they call only units that the rest of the suite tests on every backend, so they
# run once, on the backend whose tiny models train fastest here (no compilation: measured
# side by side, the three slowest took 630 s on torch and 985 s on TensorFlow). This keeps
# the suite's time on CI bounded. Without torch installed (README: TensorFlow alone runs
# everything), on TensorFlow.
GLUE_BACKEND = "torch" if importlib.util.find_spec("torch") else "tensorflow"
# For tests of bookkeeping around training (resume, retrain, time limits), not of the compiled
# step: TrainConfig overrides that skip TensorFlow's XLA compilation, which dominates its tiny
# runs. Empty elsewhere: JAX without jit would be slower, and torch compiles nothing.
WITHOUT_XLA = dict(jit_compile="false") if keras.backend.backend() == "tensorflow" else {}
glue = pytest.mark.skipif(
    keras.backend.backend() != GLUE_BACKEND,
    reason=f"Glue over backend-independent units, tested on every backend; it runs once, on "
           f"{GLUE_BACKEND} (tests/conftest.py, GLUE_BACKEND).")


def find_mnist(shared=SHARED_MNIST, cache_dir=None):
    """The path of a Keras-layout mnist.npz for the tests (see the module docstring).

    Raises:
        data.MnistUnavailableError: no file, and tensorflow_datasets could not load MNIST.
    """
    if os.environ.get(data.ENV_VAR):
        return os.environ[data.ENV_VAR]
    if pathlib.Path(shared).is_file():
        return str(shared)
    splits = {split: data.load_mnist(split) for split in data.SPLITS}  # tensorflow_datasets.
    target = pathlib.Path(cache_dir or tempfile.gettempdir()) / "keras_svae_mnist_from_tfds.npz"
    partial = target.with_suffix(".partial.npz")
    np.savez(partial, **{
        key: value for split, (images, labels) in splits.items() for key, value in (
            (f"x_{split}", np.round(images[..., 0] * 255).astype(np.uint8)),
            (f"y_{split}", labels.astype(np.uint8)),
        )
    })
    os.replace(partial, target)  # Never a half-written file for a concurrent reader.
    return str(target)


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get(MNIST_ERROR_VAR):
        return  # Workers inherit the main process's answer.
    try:
        os.environ[data.ENV_VAR] = find_mnist()
    except data.MnistUnavailableError as error:
        os.environ[MNIST_ERROR_VAR] = str(error)


@pytest.fixture(scope="session")
def mnist_path():
    if os.environ.get(MNIST_ERROR_VAR):
        pytest.fail(f"MNIST is not available: {os.environ[MNIST_ERROR_VAR]}", pytrace=False)
    path = pathlib.Path(os.environ[data.ENV_VAR])
    if not path.is_file():
        pytest.fail(f"No MNIST file at {path} ({data.ENV_VAR}). {data.HOW_TO_PROVIDE}",
                    pytrace=False)
    return str(path)


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)


@pytest.fixture
def rng(request):
    """A NumPy generator of this test's own, seeded by its id: its draws never depend on
    which tests ran before it in the same process, nor on how xdist shares them out."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


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
SMALL = dict(data_shape=(8, 8, 1), latent_dim=4, conv_channels=(4, 8, 8), encoder_units=16,
             decoder_units=32)


def write_process(log_dir, pid, start, epochs=(), tag=training_time.EPOCH_TAG):
    """One training process's event file under <log_dir>/train: its first event at `start`
    (the writer opening), then one `tag` event per (epoch, wall time) in `epochs`."""
    folder = os.path.join(log_dir, "train")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"events.out.tfevents.{int(start)}.host.{pid}.0.v2")
    events = [Event(wall_time=start, file_version="brain.Event:2")]
    for step, wall in epochs:
        event = Event(wall_time=wall, step=step)
        event.summary.value.add(tag=tag, simple_value=1.0)
        events.append(event)
    with open(path, "wb") as f:
        writer = RecordWriter(f)
        for event in events:
            writer.write(event.SerializeToString())
        writer.flush()
