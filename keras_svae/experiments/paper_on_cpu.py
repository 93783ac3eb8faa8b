"""The paper's own schedule on a 2-core CPU, across sessions: pinned trainers, then reports.

Section 5's schedule (100 epochs, batch 16, Adam 1e-4) is 375,000 steps per
model. At batch 16 one process uses two cores poorly, so the cores are spent as
`workers` single-threaded trainers, each pinned to its own core (`taskset`),
with XLA's and TensorFlow's thread pools at one thread (benchmarks/
paper_workers.py measures the layouts). Each worker takes the next model of
`ORDER` that no other has claimed and trains it with `runs.train`, the
package's run path: checkpoints every epoch (`BackupAndRestore`), so a worker
killed with its session resumes the model in a later one from the same root.

`archive` copies what finished into the repository's docs (per model: its
test metrics, the schedule, wall time, device, library versions and history),
and `write_reports` makes scaling_{gaussian,laplace}_paper.{md,json,png} from
the archived models alone, saying how many of the nine each holds. A model that
has not done every epoch of the paper's schedule is never archived.
"""

import csv
import json
import os
import platform
import shutil
import subprocess
import sys

from keras_svae import imaginary_noise, training, training_time
from keras_svae.experiments import runs
from keras_svae.experiments import scaling_laws

SCHEDULE = "paper"
# Issue 19's order: the endpoints of both sweeps first, then the rest.
ORDER = tuple(
    [("sigma_vae", s) for s in (0.1, 0.9, 0.5)] + [("alpha_vae", s) for s in (0.1, 0.9, 0.5)]
    + [("sigma_vae", s) for s in (0.2, 0.3, 0.4, 0.6, 0.7, 0.8)]
    + [("alpha_vae", s) for s in (0.2, 0.3, 0.4, 0.6, 0.7, 0.8)])
PINNED_ENV = {
    "KERAS_BACKEND": "jax",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
}
# What trained an archived model: kept when the model is archived again.
PROVENANCE = ("device", "versions", "backend", "code", "note")
STEPS_PER_EXECUTION = 20  # JAX, pinned, batch 16: the fastest measured (benchmarks/paper_workers.py).


def _claims(root):
    return os.path.join(root, SCHEDULE, "claims")


def worker(root, order=ORDER, docs_dir=None, **overrides):
    """Trains, one after another, every model of `order` that no other worker has claimed
    and that is not archived in `docs_dir` already.

    A claim is a folder made atomically (mkdir); `launch` clears them, since a new launch
    means the workers of any earlier one are gone. An archived model is done wherever it
    was trained: a session on a new machine (an empty root) goes on with the models still
    missing instead of training the archived ones again. Returns the run names trained here.
    """
    os.makedirs(_claims(root), exist_ok=True)
    overrides.setdefault("steps_per_execution", STEPS_PER_EXECUTION)
    done_before = set(archived(docs_dir)) if docs_dir else set()
    done = []
    for model, scale in order:
        name = runs.run_name(model, scale)
        if name in done_before:
            continue
        try:
            os.mkdir(os.path.join(_claims(root), name))
        except FileExistsError:
            continue
        runs.train(os.path.join(root, SCHEDULE), model, scale, SCHEDULE, **overrides)
        done.append(name)
    return done


def launch(worker_command, root, workers=2, log_dir=None):
    """Starts `workers` pinned processes running `worker_command` (argv) and waits for them.

    Worker i runs on core i (`taskset -c i`) with `PINNED_ENV`; its output goes to
    <log_dir>/worker_<i>.log. Returns their exit codes.
    """
    if workers < 1 or workers > (os.cpu_count() or 1):
        raise ValueError(f"workers must lie in [1, {os.cpu_count()}] (one per core), got {workers}.")
    shutil.rmtree(_claims(root), ignore_errors=True)
    log_dir = log_dir or os.path.join(root, SCHEDULE, "logs")
    os.makedirs(log_dir, exist_ok=True)
    env = dict(os.environ, **PINNED_ENV)
    processes = []
    for core in range(workers):
        log = open(os.path.join(log_dir, f"worker_{core}.log"), "a")
        processes.append((subprocess.Popen(["taskset", "-c", str(core)] + list(worker_command),
                                           env=env, stdout=log, stderr=subprocess.STDOUT), log))
    codes = []
    for process, log in processes:
        codes.append(process.wait())
        log.close()
    return codes


def versions():
    """The library versions a result was made with."""
    import keras
    import numpy
    import tensorflow

    found = dict(keras=keras.__version__, tensorflow=tensorflow.__version__,
                 numpy=numpy.__version__, python=platform.python_version())
    for name in ("jax", "torch"):
        module = sys.modules.get(name)
        if module is not None:
            found[name] = module.__version__
    return found


def finished(root, model, scale):
    """A run's metrics.json if it finished every epoch of the paper's schedule, else None."""
    folder = os.path.join(root, SCHEDULE, runs.run_name(model, scale))
    path = os.path.join(folder, "metrics.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        record = json.load(f)
    wanted = runs.config_for(model, scale, SCHEDULE)
    if runs.differences(record["config"], wanted):
        return None  # Another schedule, a subset, another network or beta: never a "paper" row.
    with open(os.path.join(folder, "history.csv")) as f:
        epochs = len(list(csv.DictReader(f)))
    return dict(record, epochs_done=epochs) if epochs == wanted.epochs else None


def archive(root, docs_dir, device="CPU", code=None, note=None):
    """Copies every finished model's record and history into <docs_dir>/paper/<run name>/.

    Returns the archived run names. `code` names the package version that trained
    them (a commit); `note` says anything else a reader needs (how it was trained).
    A model archived before, unchanged since (the same config and test metrics), keeps
    its record's provenance (`PROVENANCE`: what trained it, which a later call cannot
    know); only what its run folder holds is refreshed. A model trained anew takes the
    provenance of this call.
    """
    names = []
    for model, scale in ORDER:
        record = finished(root, model, scale)
        if record is None:
            continue
        name = runs.run_name(model, scale)
        path = _record_path(docs_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        test, config = record["test"], record["config"]
        clock = _clock(os.path.join(root, SCHEDULE, name, "logs"), record)
        summary = dict(
            model=model, scale=scale, test=test,
            elbo_with_constant=test["elbo"] - _constant(model, scale),
            epochs_done=record["epochs_done"], batch_size=config["batch_size"],
            learning_rate=config["learning_rate"], seed=config["seed"],
            **clock, device=device, versions=versions(),
            backend=os.environ.get("KERAS_BACKEND", "tensorflow"), code=code, note=note,
            config=config)
        summary.update(_provenance(path, summary))
        with open(path, "w") as f:
            json.dump(summary, f, indent=2)
        shutil.copyfile(os.path.join(root, SCHEDULE, name, "history.csv"),
                        os.path.join(os.path.dirname(path), "history.csv"))
        names.append(name)
    return names


def _provenance(path, summary):
    """The provenance fields of the record at `path`, if it holds the model `summary`
    describes (same config and test metrics); else none."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        record = json.load(f)
    if (record.get("config"), record.get("test")) != (summary["config"], summary["test"]):
        return {}
    return {key: record[key] for key in PROVENANCE if key in record}


def _clock(log_dir, record):
    """A model's training time: every process that trained it, across sessions, from its
    TensorBoard logs (`training_time`); metrics.json's last call only, said so, where no
    epoch reached those logs."""
    try:
        clock = training_time.from_logs(log_dir)
    except FileNotFoundError:
        return dict(wall_seconds=record.get("wall_seconds"), median_epoch_seconds=None,
                    training_processes=None, wall_of="the last training call only")
    return dict(wall_seconds=clock["seconds"], median_epoch_seconds=clock["median_epoch_seconds"],
                training_processes=clock["processes"], wall_of="every training process")


def _wall_note(records):
    """What the reports' wall column holds, and the median epochs' range."""
    note = ("The wall column adds up, from the TensorBoard logs (`training_time`), every process "
            "that trained a model across sessions: from its start to its last finished epoch, "
            "including any time it stood paused, but not the time between processes")
    unlogged = [f"{r['scale']:g}" for r in records if r.get("training_processes") is None]
    if unlogged:
        note += (f"; at {', '.join(unlogged)}, the last training call only (no epoch reached "
                 "its logs)")
    medians = sorted(r["median_epoch_seconds"] for r in records
                     if r.get("median_epoch_seconds") is not None)
    if medians:
        low, high = f"{medians[0]:.0f}", f"{medians[-1]:.0f}"
        spread = low if low == high else f"{low}-{high}"
        note += f". The median epoch took {spread} s"
    return note


def _devices(records, symbol):
    """The device that trained the models, or each device with its scales where they differ
    (models trained in sessions on different machines)."""
    scales = {}
    for r in records:
        scales.setdefault(r["device"], []).append(f"{r['scale']:g}")
    if len(scales) == 1:
        return next(iter(scales))
    return "; ".join(f"{device} for {symbol} = {', '.join(of)}" for device, of in scales.items())


def _constant(model, scale):
    """The likelihood's normalising constant per MNIST image (eqs. 5, 10), in nats."""
    return imaginary_noise.get(training.noise_of(model), scale).constant(28 * 28)


def _record_path(docs_dir, name):
    return os.path.join(docs_dir, SCHEDULE, name, "metrics.json")


def archived(docs_dir):
    """{run name: archived record} of every model of `ORDER` archived in <docs_dir>/paper/."""
    records = {}
    for model, scale in ORDER:
        name = runs.run_name(model, scale)
        if os.path.exists(_record_path(docs_dir, name)):
            with open(_record_path(docs_dir, name)) as f:
                records[name] = json.load(f)
    return records


def write_reports(docs_dir):
    """scaling_{gaussian,laplace}_paper.{md,json,png} from the archived models; returns
    {noise: number of models}. A noise with no archived model gets no report."""
    counts = {}
    every = archived(docs_dir)
    for noise in scaling_laws.NOISES:
        model = training.model_of(noise)
        records = [r for r in every.values() if r["model"] == model]
        counts[noise] = len(records)
        if not records:
            continue
        records.sort(key=lambda r: r["scale"])
        summary = scaling_laws.summarize(noise, [r["scale"] for r in records],
                                         [r["test"] for r in records],
                                         wall_seconds=[r["wall_seconds"] for r in records])
        for row, r in zip(summary["rows"], records):
            row.update(epochs_done=r["epochs_done"], batch_size=r["batch_size"],
                       learning_rate=r["learning_rate"],
                       median_epoch_seconds=r.get("median_epoch_seconds"),
                       training_processes=r.get("training_processes"))
        first = records[0]
        summary["models_of"] = len([s for m, s in ORDER if m == model])
        summary["schedule"] = dict(
            name=SCHEDULE, trained_as="one model per pinned single-threaded process",
            wall=_wall_note(records), device=_devices(records, scaling_laws.SYMBOLS[noise]),
            epochs_done=min(r["epochs_done"] for r in records),
            **{k: first["config"][k] for k in ("epochs", "batch_size", "learning_rate",
                                                "train_size", "test_size", "latent_dim",
                                                "seed")})
        scaling_laws.write_report(summary, os.path.join(docs_dir, f"scaling_{noise}_{SCHEDULE}"))
    return counts
