"""MNIST loading (offline file and tensorflow_datasets) and the input pipeline."""

import numpy as np
import pytest

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
    with pytest.raises(FileNotFoundError, match=f"No MNIST file.*{data.ENV_VAR}"):
        data.load_mnist(path=str(tmp_path / "nowhere.npz"))


def test_file_without_the_split_is_rejected(tmp_path):
    path = tmp_path / "half.npz"
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="lacks.*x_test"):
        data.load_mnist("test", path=str(path))


def test_without_file_or_network_the_tfds_error_points_to_a_local_file(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    # An empty data directory and no download: what an offline machine meets.
    with pytest.raises(RuntimeError, match="tensorflow_datasets.*--data=.*" + data.ENV_VAR):
        data.load_mnist("test", data_dir=str(tmp_path), download=False)


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
