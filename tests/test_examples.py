"""The example binaries run end to end on a tiny schedule."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_svae  # noqa: F401  (registers the classes that load_model needs)
from conftest import REPO, to_numpy

TINY = ["--epochs=1", "--train_size=256", "--test_size=300", "--batch_size=64", "--latent_dim=8"]


def run_example(script, *flags):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(REPO / "examples" / script), *flags],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("model_flags", [["--model=sigma_vae", "--sigma=0.5"],
                                         ["--model=vanilla_vae", "--beta=2"],
                                         ["--model=deen", "--sigma=0.6"]])
def test_train_writes_model_metrics_and_logs(tmp_path, mnist_path, model_flags):
    outdir = tmp_path / "run"
    result = run_example("train.py", *model_flags, *TINY, f"--data={mnist_path}",
                         f"--outdir={outdir}")
    assert "test: loss=" in result.stdout or "test: elbo=" in result.stdout
    assert "step" in result.stdout  # Keras's progress bar.
    report = json.loads((outdir / "metrics.json").read_text())
    name = model_flags[0].split("=")[1]
    assert report["config"]["model"] == name
    assert report["config"]["beta"] == (2.0 if "--beta=2" in model_flags else 1.0)
    assert all(np.isfinite(v) for v in report["test"].values())
    model = keras.saving.load_model(outdir / "last.keras")
    x = np.zeros((2, 28, 28, 1), "float32")
    if name == "deen":
        assert set(report["test"]) == {"loss", "mse", "noisy_mse"}
        assert model.sigma == 0.6
        assert to_numpy(model.denoise(x)).shape == (2, 28, 28, 1)
    else:
        assert set(report["test"]) == {"loss", "recon", "kl", "mse", "elbo"}
        assert model.latent_dim == 8
        assert to_numpy(model.reconstruct(x, seed=1)).shape == (2, 28, 28, 1)
    events = list(pathlib.Path(outdir / "logs").rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} >= {"train", "validation"}


def test_train_rejects_a_bad_sigma_with_a_clear_error(tmp_path, mnist_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(REPO / "examples" / "train.py"), "--sigma=-1",
                             *TINY, f"--data={mnist_path}", f"--outdir={tmp_path}"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode != 0 and "sigma must be finite and > 0" in result.stderr


def test_equivalence_example_prints_the_pair_report(mnist_path):
    result = run_example("equivalence.py", "--noise=laplace", "--scale_1=0.8", "--scale_2=0.2",
                         "--train_size=128", "--test_size=250", "--batch_size=64",
                         "--latent_dim=8", f"--data={mnist_path}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["steps"] == 2 and report["optimizer"] == "sgd"
    assert report["max_weight_difference"] < 1e-5 * report["max_weight_magnitude"]
    assert report["metrics_scale_2"]["kl"] == pytest.approx(report["metrics_scale_1_beta"]["kl"],
                                                            rel=1e-4)
