"""The paper's schedule on a CPU: claims, what counts as finished, archived records, reports."""

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys

import pytest
from scipy import stats

from conftest import REPO, glue, write_process
from keras_svae.experiments import paper_on_cpu, runs


def fake_run(root, model, scale, epochs=100, kl=20.0, logs=True, **overrides):
    """A run folder as `runs.train` leaves it, without training: trained by two processes
    (a resume), 60 s per epoch, 10 s to open the writers; 3600 s in metrics.json, the
    last process's share."""
    config = runs.config_for(model, scale, "paper", **overrides)
    folder = os.path.join(root, "paper", runs.run_name(model, scale))
    os.makedirs(folder, exist_ok=True)
    test = dict(kl=kl, mse=10.0 * scale, elbo=-100.0 * scale, recon=1.0, loss=1.0)
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        json.dump(dict(test=test, config=dataclasses.asdict(config), wall_seconds=3600.0), f)
    with open(os.path.join(folder, "history.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "loss"])
        writer.writerows([[e, 1.0] for e in range(epochs)])
    if not logs:
        shutil.rmtree(os.path.join(folder, "logs"), ignore_errors=True)
        return
    half = epochs // 2
    for pid, first in ((1, 0), (2, half)):
        start = 1000.0 * pid * epochs
        write_process(os.path.join(folder, "logs"), pid, start, [
            (first + k, start + 10.0 + 60.0 * (k + 1)) for k in range(epochs - half)])


def test_only_a_whole_paper_schedule_is_finished(tmp_path):
    root = str(tmp_path)
    fake_run(root, "sigma_vae", 0.1)
    fake_run(root, "sigma_vae", 0.9, epochs=99)                   # Cut short.
    fake_run(root, "sigma_vae", 0.5, train_size=1000)             # A quick check.
    fake_run(root, "alpha_vae", 0.1, batch_size=128)              # Another schedule.
    fake_run(root, "alpha_vae", 0.5, test_size=1000)              # A test subset.
    fake_run(root, "sigma_vae", 0.2, strides=1)                   # Another network.
    fake_run(root, "sigma_vae", 0.3, beta=2.0)                    # A (sigma, beta)-VAE.
    # How a run was executed is not what it learned: still the paper's.
    fake_run(root, "sigma_vae", 0.4, steps_per_execution=20, verbose=2, data="/x/mnist.npz")
    assert paper_on_cpu.finished(root, "sigma_vae", 0.1)["epochs_done"] == 100
    assert paper_on_cpu.finished(root, "sigma_vae", 0.4)["epochs_done"] == 100
    for model, scale in (("sigma_vae", 0.9), ("sigma_vae", 0.5), ("alpha_vae", 0.1),
                         ("alpha_vae", 0.5), ("sigma_vae", 0.2),
                         ("sigma_vae", 0.3)):
        assert paper_on_cpu.finished(root, model, scale) is None


def test_reports_say_how_many_models_they_hold(tmp_path):
    root, docs = str(tmp_path / "runs"), str(tmp_path / "docs")
    for scale, kl in ((0.1, 80.0), (0.9, 12.0)):
        fake_run(root, "sigma_vae", scale, kl=kl)
    fake_run(root, "sigma_vae", 0.5, epochs=40)
    assert paper_on_cpu.archive(root, docs, device="test CPU", code="abc") == [
        "sigma_vae_0.1", "sigma_vae_0.9"]
    record = json.load(open(os.path.join(docs, "paper", "sigma_vae_0.1", "metrics.json")))
    assert record["epochs_done"] == 100 and record["batch_size"] == 16
    assert record["learning_rate"] == 1e-4 and record["code"] == "abc"
    assert "keras" in record["versions"] and record["device"] == "test CPU"
    # Both processes' time (2 x (10 + 50 x 60) s), not metrics.json's last one.
    assert record["wall_seconds"] == pytest.approx(2 * (10 + 50 * 60))
    assert record["training_processes"] == 2 and record["median_epoch_seconds"] == 60
    assert os.path.exists(os.path.join(docs, "paper", "sigma_vae_0.1", "history.csv"))
    assert paper_on_cpu.write_reports(docs) == {"gaussian": 2, "laplace": 0}
    table = open(os.path.join(docs, "scaling_gaussian_paper.md")).read()
    assert "**2 of 9 models**" in table and "not fitted (2 scales" in table
    assert "| 6020 |" in table and "The median epoch took 60 s" in table
    assert "process on test CPU." in table
    assert not os.path.exists(os.path.join(docs, "scaling_laplace_paper.md"))
    rows = json.load(open(os.path.join(docs, "scaling_gaussian_paper.json")))["rows"]
    assert [r["scale"] for r in rows] == [0.1, 0.9]
    assert all(r["epochs_done"] == 100 and r["batch_size"] == 16 and r["learning_rate"] == 1e-4
               for r in rows)
    # Archived again by a later call, an unchanged model keeps what trained it, and what its
    # run folder holds is refreshed (here its logs: a third process, 5 epochs of 70 s).
    write_process(os.path.join(root, "paper", "sigma_vae_0.1", "logs"), 3, 1e6,
                  [(95 + k, 1e6 + 70.0 * (k + 1)) for k in range(5)])
    paper_on_cpu.archive(root, docs, device="another CPU", code="def", note="later")
    path = os.path.join(docs, "paper", "sigma_vae_0.1", "metrics.json")
    again = json.load(open(path))
    assert {k: again[k] for k in paper_on_cpu.PROVENANCE} == {
        k: record[k] for k in paper_on_cpu.PROVENANCE}
    assert again["training_processes"] == 3 and again["wall_seconds"] > record["wall_seconds"]
    # A model trained anew (other test metrics) is this call's.
    fake_run(root, "sigma_vae", 0.1, kl=81.0)
    paper_on_cpu.archive(root, docs, device="another CPU", code="def", note="later")
    anew = json.load(open(path))
    assert (anew["code"], anew["note"], anew["device"]) == ("def", "later", "another CPU")
    assert anew["test"]["kl"] == 81.0
    # With a third model, nu is fitted. This one's logs hold no epoch (never flushed): its
    # wall time is metrics.json's, and the report says so.
    fake_run(root, "sigma_vae", 0.5, kl=30.0, logs=False)
    paper_on_cpu.archive(root, docs)
    paper_on_cpu.write_reports(docs)
    summary = json.load(open(os.path.join(docs, "scaling_gaussian_paper.json")))
    assert summary["fit"]["nu"] > 0 and len(summary["rows"]) == 3
    record = json.load(open(os.path.join(docs, "paper", "sigma_vae_0.5", "metrics.json")))
    assert record["wall_seconds"] == 3600 and record["wall_of"] == "the last training call only"
    assert "at 0.5, the last training call only" in summary["schedule"]["wall"]
    # Trained on three machines: each is named with its models.
    assert summary["schedule"]["device"] == (
        "another CPU for σ = 0.1; CPU for σ = 0.5; test CPU for σ = 0.9")


@pytest.mark.parametrize("model, scale, density", [
    ("sigma_vae", 0.1, stats.norm), ("sigma_vae", 0.9, stats.norm),
    ("alpha_vae", 0.1, stats.laplace), ("alpha_vae", 0.7, stats.laplace)])
def test_the_archived_elbo_adds_the_likelihoods_constant(model, scale, density, tmp_path):
    """The constant of log p(x | z) per MNIST image: 784 x log density(0) at zero residual,
    from scipy (N(0, sigma^2), Laplace(0, alpha)); at sigma = 0.1 and alpha = 0.1 it is
    positive, so a dropped sign or a Gaussian formula for the Laplace shows."""
    root, docs = str(tmp_path / "runs"), str(tmp_path / "docs")
    fake_run(root, model, scale)
    paper_on_cpu.archive(root, docs)
    record = json.load(open(os.path.join(docs, "paper", runs.run_name(model, scale),
                                         "metrics.json")))
    assert record["elbo_with_constant"] == pytest.approx(
        record["test"]["elbo"] + 784 * density.logpdf(0.0, scale=scale), rel=1e-12)


def test_workers_never_train_one_model_twice(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(runs, "train", lambda root, model, scale, schedule, **kw: trained.append(
        (model, scale, schedule, kw["steps_per_execution"])))
    order = paper_on_cpu.ORDER[:3]
    first = paper_on_cpu.worker(str(tmp_path), order=order)
    second = paper_on_cpu.worker(str(tmp_path), order=order)  # Everything is claimed.
    assert first == ["sigma_vae_0.1", "sigma_vae_0.9", "sigma_vae_0.5"] and second == []
    assert trained == [(m, s, "paper", paper_on_cpu.STEPS_PER_EXECUTION) for m, s in order]


def test_workers_on_a_new_machine_skip_the_archived_models(tmp_path, monkeypatch):
    """An empty root (a new machine) with docs that hold archived models: the workers go on
    with the missing ones, never training an archived model again."""
    old, new, docs = str(tmp_path / "old"), str(tmp_path / "new"), str(tmp_path / "docs")
    fake_run(old, "sigma_vae", 0.1)
    fake_run(old, "sigma_vae", 0.9, epochs=40)  # Unfinished where it was: not archived.
    assert paper_on_cpu.archive(old, docs) == ["sigma_vae_0.1"]
    assert list(paper_on_cpu.archived(docs)) == ["sigma_vae_0.1"]
    trained = []
    monkeypatch.setattr(runs, "train", lambda root, model, scale, schedule, **kw: trained.append(
        (model, scale)))
    order = paper_on_cpu.ORDER[:3]
    assert paper_on_cpu.worker(new, order=order, docs_dir=docs) == ["sigma_vae_0.9",
                                                                    "sigma_vae_0.5"]
    assert trained == [("sigma_vae", 0.9), ("sigma_vae", 0.5)]


def test_the_order_is_the_issues_and_complete():
    assert paper_on_cpu.ORDER[:6] == (("sigma_vae", 0.1), ("sigma_vae", 0.9), ("sigma_vae", 0.5),
                                      ("alpha_vae", 0.1), ("alpha_vae", 0.9), ("alpha_vae", 0.5))
    assert sorted(paper_on_cpu.ORDER) == sorted(
        (m, s) for m in ("sigma_vae", "alpha_vae") for s in runs.SCALES)


def test_launch_pins_each_worker_with_the_pinned_env_and_clears_old_claims(tmp_path):
    """A relaunch in a later session must see no claim of the last one (its workers are
    gone), each worker must run on its own core with one-thread pools, log, and report."""
    root = str(tmp_path)
    stale = os.path.join(root, "paper", "claims", "sigma_vae_0.1")
    os.makedirs(stale)
    probe = ("import json, os, sys; print(json.dumps(dict(cores=sorted(os.sched_getaffinity(0)), "
             "env={k: os.environ.get(k) for k in %r}, claims=os.path.exists(%r)))); "
             "sys.exit(3)" % (sorted(paper_on_cpu.PINNED_ENV), stale))
    assert paper_on_cpu.launch([sys.executable, "-c", probe], root, workers=1) == [3]
    with open(os.path.join(root, "paper", "logs", "worker_0.log")) as f:
        seen = json.loads(f.read().strip().splitlines()[-1])
    assert seen == dict(cores=[0], env=paper_on_cpu.PINNED_ENV, claims=False)


def test_more_workers_than_cores_is_refused(tmp_path):
    with pytest.raises(ValueError, match="one per core"):
        paper_on_cpu.launch(["true"], str(tmp_path), workers=(os.cpu_count() or 1) + 1)


@glue
def test_the_archive_command_archives_and_reports_what_finished(tmp_path):
    """examples/paper_on_cpu.py --archive_only: its flags, then `archive` and `write_reports`."""
    root, docs = tmp_path / "runs", tmp_path / "docs"
    fake_run(str(root), "alpha_vae", 0.1, kl=70.0)
    fake_run(str(root), "alpha_vae", 0.9, epochs=30)  # Unfinished: not archived.
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "paper_on_cpu.py"), "--archive_only",
         f"--root={root}", f"--report_dir={docs}", "--code=abc", "--note=a test"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "archived: ['alpha_vae_0.1']" in result.stdout
    record = json.load(open(docs / "paper" / "alpha_vae_0.1" / "metrics.json"))
    assert record["code"] == "abc" and record["note"] == "a test"
    assert "**1 of 9 models**" in (docs / "scaling_laplace_paper.md").read_text()


@glue
def test_the_command_on_a_new_machine_trains_nothing_archived(tmp_path):
    """examples/paper_on_cpu.py hands --report_dir to its workers: with all 18 models archived,
    a launch from an empty root trains nothing (it would fail on --data, which names no file)."""
    old, docs = str(tmp_path / "old"), str(tmp_path / "docs")
    for model, scale in paper_on_cpu.ORDER:
        fake_run(old, model, scale, logs=False)
    assert len(paper_on_cpu.archive(old, docs)) == 18
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "paper_on_cpu.py"), "--workers=1",
         f"--root={tmp_path / 'new'}", f"--report_dir={docs}", f"--data={tmp_path / 'none.npz'}"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "archived: []" in result.stdout
    assert not os.path.exists(tmp_path / "new" / "paper" / "sigma_vae_0.1")
