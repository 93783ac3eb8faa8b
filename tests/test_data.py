"""MNIST loading (offline file and tensorflow_datasets) and the input pipeline."""

import re
import sys
import types

import numpy as np
import pytest

from conftest import find_mnist
from keras_svae import data


@pytest.mark.parametrize("split,n,first_labels", [
    ("train", 60000, [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]),
    ("test", 10000, [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]),
])
def test_loads_the_shared_npz(mnist_path, split, n, first_labels):
    images, labels = data.load_mnist(split, path=mnist_path)
    assert images.shape == (n, 28, 28, 1) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels[:10].tolist() == first_labels
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == n and counts.min() > n // 12  # Every digit, roughly balanced.
    if split == "train":  # The file's README: mean 0.1307, std 0.3081 on [0, 1].
        assert abs(images.mean() - 0.1307) < 1e-4 and abs(images.std() - 0.3081) < 1e-4


def test_environment_variable_is_the_default_path(mnist_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, mnist_path)
    images, _ = data.load_mnist("test")
    assert images.shape == (10000, 28, 28, 1)


def test_missing_file_error_says_how_to_fix_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"No MNIST file.*{data.ENV_VAR}") as caught:
        data.load_mnist(path=str(tmp_path / "nowhere.npz"))
    assert data.HOW_TO_PROVIDE in str(caught.value)


def small_mnist(n=6):
    """A valid Keras-layout mnist.npz's arrays, n images per split."""
    rng = np.random.default_rng(0)
    return {f"{key}_{split}": value for split in data.SPLITS for key, value in (
        ("x", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
        ("y", rng.integers(0, 10, n, dtype=np.uint8)))}


def test_a_small_valid_file_loads(tmp_path):
    path = tmp_path / "mnist.npz"
    arrays = small_mnist()
    np.savez(path, **arrays)
    images, labels = data.load_mnist("test", path=str(path))
    np.testing.assert_array_equal(images[..., 0], arrays["x_test"] / np.float32(255))
    np.testing.assert_array_equal(labels, arrays["y_test"])


def _truncated(path):
    np.savez_compressed(path, **small_mnist(200))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _pickled(path):
    arrays = small_mnist()
    arrays["x_test"] = np.array([{"a": 1}], dtype=object)  # Loading it would unpickle.
    np.savez(path, **arrays)


def _replace(key, value):
    def write(path):
        np.savez(path, **{**small_mnist(), key: value})
    return write


def _without(key):
    def write(path):
        arrays = small_mnist()
        del arrays[key]
        np.savez(path, **arrays)
    return write


@pytest.mark.parametrize("write,problem", [
    (_truncated, "cannot be read as an .npz"),
    (lambda path: path.write_text("x_train,y_train\n0,5\n"), "cannot be read as an .npz"),
    (lambda path: np.save(path.with_suffix(".npy"), np.zeros(3)) or
     path.with_suffix(".npy").rename(path), "holds one array"),
    (_pickled, "cannot be read as an .npz.*pickle"),
    (_without("x_test"), r"lacks \['x_test'\]"),
    (_replace("x_test", np.zeros((6, 28, 28), np.float32)), "x_test must be uint8.*float32"),
    (_replace("x_test", np.zeros((6, 32, 32), np.uint8)), r"x_test must be .*\(6, 32, 32\)"),
    (_replace("y_test", np.zeros(5, np.uint8)), r"y_test must hold one integer label.*\(5,\)"),
    (_replace("y_test", np.zeros(6, np.float32)), "y_test must hold one integer label.*float32"),
], ids=["truncated", "text", "npy", "pickle", "keys", "dtype", "shape", "labels", "label-dtype"])
def test_a_damaged_file_is_named_with_what_is_wrong(tmp_path, write, problem):
    path = tmp_path / "mnist.npz"
    write(path)
    expected = f"{re.escape(str(path))}.* is not a usable Keras-layout mnist.npz: .*{problem}"
    with pytest.raises(data.MnistFileError, match=expected) as caught:
        data.load_mnist("test", path=str(path))
    assert caught.value.__class__ is data.MnistFileError


def fake_tfds(n=5, calls=None):
    """A stand-in for tensorflow_datasets: load() returns n uint8 images and labels."""
    def load(name, split, batch_size, as_supervised, data_dir, download):
        assert (name, batch_size, as_supervised) == ("mnist", -1, True)
        if calls is not None:
            calls.append(split)
        rng = np.random.default_rng(len(split))
        return (rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),
                rng.integers(0, 10, n, dtype=np.int64))
    return types.SimpleNamespace(load=load, as_numpy=lambda tree: tree)


def test_without_a_file_tensorflow_datasets_loads(monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    calls = []
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake_tfds(calls=calls))
    images, labels = data.load_mnist("test")
    assert calls == ["test"]
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.shape == (5,) and labels.dtype == np.int64


def test_the_tests_find_mnist_through_tensorflow_datasets(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake_tfds())
    path = find_mnist(shared=tmp_path / "absent.npz", cache_dir=tmp_path)
    for split in data.SPLITS:  # The file written holds exactly what tfds gave.
        images, labels = data.load_mnist(split, path=path)
        expected = data.load_mnist(split)
        np.testing.assert_array_equal(images, expected[0])
        np.testing.assert_array_equal(labels, expected[1])


def test_without_file_or_tensorflow_datasets_the_error_says_how_to_provide_mnist(
        tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # `import` raises ImportError.
    with pytest.raises(data.MnistUnavailableError, match="cannot be imported") as caught:
        find_mnist(shared=tmp_path / "absent.npz", cache_dir=tmp_path)
    assert data.HOW_TO_PROVIDE in str(caught.value)


def test_without_file_or_network_the_tfds_error_points_to_a_local_file(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    # An empty data directory and no download: what an offline machine meets.
    with pytest.raises(data.MnistUnavailableError, match="tensorflow_datasets") as caught:
        data.load_mnist("test", data_dir=str(tmp_path), download=False)
    assert data.HOW_TO_PROVIDE in str(caught.value)


def test_unknown_split():
    with pytest.raises(ValueError, match="split"):
        data.load_mnist("validation")


def test_pipeline_batches_shuffles_and_covers_every_image():
    images = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    batches = [b.numpy() for b in data.make_dataset(images, 4, seed=1)]
    assert [len(b) for b in batches] == [4, 4, 2]
    seen = np.concatenate(batches).ravel()
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    ordered = np.concatenate(list(data.make_dataset(images, 4, shuffle=False))).ravel()
    assert ordered.tolist() == list(range(10))
    with pytest.raises(ValueError, match="batch_size"):
        data.make_dataset(images, 0)
