"""Any dataset: tensorflow_datasets by name (offline, through its mock data), npz files of
any image shape, a user's arrays, and a training run on colour images."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from conftest import REPO, glue
from keras_svae import data, seeding


@pytest.mark.parametrize("name, shape", [("cifar10", (32, 32, 3)), ("fashion_mnist", (28, 28, 1))])
def test_tfds_datasets_load_by_name(name, shape):
    with tfds.testing.mock_data(num_examples=24):
        images, labels = data.load(name, "train")
    assert images.shape == (24,) + shape and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.5
    assert labels.dtype == np.int64 and labels.shape == (24,) and 0 <= labels.min() <= labels.max() < 10


def test_an_unknown_name_is_refused():
    with pytest.raises(ValueError, match="Unknown dataset 'no_such_dataset'"):
        data.load("no_such_dataset")


def test_offline_the_error_names_the_dataset(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="'cifar10'.*npz"):
        data.load("cifar10", "train", data_dir=str(tmp_path), download=False)


def test_an_npz_of_any_image_shape_loads(tmp_path, rng):
    path = tmp_path / "own.npz"
    np.savez(path, x_train=rng.integers(0, 256, (10, 5, 6, 3), dtype=np.uint8),
             y_train=np.arange(10), x_test=rng.uniform(size=(4, 5, 6, 3)).astype("float32"),
             y_test=np.arange(4))
    train, labels = data.load("own", "train", path=str(path))
    assert train.shape == (10, 5, 6, 3) and train.max() <= 1.0 and list(labels) == list(range(10))
    test, _ = data.load("own", "test", path=str(path))
    assert test.shape == (4, 5, 6, 3)
    with pytest.raises(ValueError, match="lacks"):
        np.savez(tmp_path / "half.npz", x_train=np.zeros((2, 3, 3), np.uint8))
        data.load("own", "train", path=str(tmp_path / "half.npz"))


def test_a_users_arrays_become_images():
    assert data.as_images(np.full((2, 4, 4), 255, np.uint8)).shape == (2, 4, 4, 1)
    assert data.as_images(np.full((2, 4, 4, 1), 255, np.uint8)).max() == 1.0
    with pytest.raises(ValueError, match=r"lie in \[0, 1\].*255"):
        data.as_images(np.full((2, 4, 4, 1), 200.0, np.float32))


TRAIN_ON_MOCK_CIFAR = """
import runpy, sys
import tensorflow_datasets as tfds
outdir = sys.argv[1]
sys.argv = ["train.py", "--dataset=cifar10", "--model=sigma_vae", "--sigma=0.5", "--epochs=1",
            "--batch_size=16", "--latent_dim=4", "--outdir=" + outdir, "--verbose=0"]
with tfds.testing.mock_data(num_examples=48):
    runpy.run_path({train!r}, run_name="__main__")
"""


@glue  # The loading path is the same on every backend (tested above).
def test_train_example_trains_on_cifar10_by_name(tmp_path):
    script = TRAIN_ON_MOCK_CIFAR.format(train=str(REPO / "examples" / "train.py"))
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["config"]["dataset"] == "cifar10" and np.isfinite(report["test"]["loss"])
    model = keras.saving.load_model(tmp_path / "run" / "last.keras")
    assert model.data_shape == (32, 32, 3)


def test_the_experiments_take_colour_images_and_any_number_of_classes(tmp_path, rng):
    """Robustness curves, the classifier and the figure panels on 8x8x3 images of 3 classes."""
    from keras_svae.experiments import classifier, figures, robustness

    images = rng.uniform(size=(12, 8, 8, 3)).astype("float32")
    labels = np.arange(12) % 3
    model = classifier.train(images, labels, epochs=1, batch_size=4)
    assert model.output_shape == (None, 3)
    rows = robustness.curves(model, {"raw y": lambda y: y}, images, labels, "gaussian",
                             levels=[0.0, 0.5], batch_size=4)
    assert rows[0]["mse"] == 0.0  # Level 0: y is x.
    expected = np.mean(np.sum(np.square(robustness.corrupt(
        "gaussian", images, 0.5, seed=seeding.derive(0, seeding.ROBUSTNESS, seeding.NOISE, 1))
        - images).reshape(12, -1), axis=1))
    assert rows[1]["mse"] == pytest.approx(expected, rel=1e-5) and rows[1]["mse"] > 1.0
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    path = tmp_path / "panels.png"
    figures.save_panels(str(path), [("clean", images), ("noisy", images[::-1])], columns=4,
                        title="colour")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_experiments_models_and_classifier_use_their_dataset(tmp_path):
    """--dataset reaches the shared models' images and their classifier (tfds's mock data)."""
    from keras_svae.experiments import runs

    models = runs.TrainedModels(str(tmp_path), "cpu", dataset="cifar10")
    with tfds.testing.mock_data(num_examples=16):
        images, labels = models.images("test")
        judge = models.classifier(epochs=1)
    assert images.shape == (16, 32, 32, 3) and labels.shape == (16,)
    assert judge.input_shape == (None, 32, 32, 3)
    assert (tmp_path / "classifier_cifar10_1epochs_seed0.keras").exists()
    assert models.config("sigma_vae", 0.5).dataset == "cifar10"
