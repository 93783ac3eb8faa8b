"""Training a sweep of VAEs as one `SigmaVAEFamily`: the library behind `--family`.

`train_family(configs, outdirs, family_dir)` trains the runs that `configs`
describe (one `training.TrainConfig` per member: sigma-, alpha- or vanilla
VAEs that differ only in sigma, alpha, beta and seed) as one family, and
leaves in each member's `outdir` what `training.train_and_evaluate` would:
`last.keras` and `best.keras` (a standard `SigmaVAE`), `history.csv` (that
member's metrics under the usual names) and, when every epoch is done,
`metrics.json`. So the experiments read a family's members as they read
models trained one at a time.

Each member starts from the weights its own run would (its SigmaVAE built
after `keras.utils.set_random_seed(seed)`), draws its own noise from its own
seed, and, when all seeds are equal, sees its own run's batches; with
different seeds (or `data_order="own"`) each member gets its own seed's order
(`data.make_family_dataset`). A family sweep therefore trains the models of
the sequential one, up to the floating-point order of a few sums.

The family's own state lives in `family_dir`: `backup/` (rerunning resumes
from the last finished epoch), `history.csv` (every member's metrics),
and `logs/` (TensorBoard). `time_limit` stops
after the last epoch that fits, for a machine lent for minutes: the members'
files then say how many epochs they have (metrics_partial.json instead of
metrics.json), and a rerun carries on. A diverged run raises and leaves no
backup to restore.
"""

import dataclasses
import os
import shutil
import time

import keras
import tensorflow as tf

from keras_svae import data
from keras_svae import distribution
from keras_svae import family
from keras_svae import seeding
from keras_svae import training

_MEMBER_FIELDS = ("sigma", "alpha", "beta", "seed", "model")
DATA_ORDERS = ("auto", "shared", "own")


def member_spec(config):
    """The family member (`SigmaVAEFamily`'s dict) that a run's config describes."""
    if config.model not in training.VAES:
        raise ValueError(f"A family trains VAEs ({sorted(training.VAES)}), not {config.model!r}.")
    return dict(noise=training.noise_of(config.model), scale=training.scale_of(config),
                beta=config.beta, seed=config.seed)


def shared_config(configs):
    """The settings every member shares; ValueError naming any that differ."""
    if not configs:
        raise ValueError("A family needs at least one member, got no configs.")
    first = dataclasses.asdict(configs[0])
    for config in configs[1:]:
        other = dataclasses.asdict(config)
        different = {k: (first[k], other[k]) for k in first
                     if k not in _MEMBER_FIELDS and first[k] != other[k]}
        if different:
            raise ValueError(f"Members of one family share everything but {_MEMBER_FIELDS}; "
                             f"these settings differ: {different}.")
    return configs[0]


def build(configs):
    """The family, each member initialised as its own run's model would be."""
    models = []
    for config in configs:
        member_spec(config)  # Refuses what a family cannot hold (DEEN).
        seeding.set_weights_seed(config.seed)
        models.append(training.build_model(config))
    return family.SigmaVAEFamily.from_members(models)


class MemberCallbacks(keras.callbacks.Callback):
    """Runs a single run's callbacks on member k of a family, with member k's logs.

    Their model is a copy of member k (a standard `SigmaVAE`, brought up to date
    at each epoch's end) and their logs are its metrics under a single model's
    names, so `training.model_callbacks` leaves in a member's folder what a
    single run leaves.
    """

    def __init__(self, k, callbacks):
        super().__init__()
        self.k, self.callbacks = k, list(callbacks)

    def _each(self, hook, *args, logs=None):
        logs = member_logs(self.model, self.k, logs or {})
        for callback in self.callbacks:
            getattr(callback, hook)(*args, logs=logs)

    def on_train_begin(self, logs=None):
        self.member = self.model.member(self.k)
        # Uncompiled: the family's optimizer trains it (TensorBoard reads the attribute).
        self.member.optimizer = None
        for callback in self.callbacks:
            callback.set_model(self.member)
        self._each("on_train_begin", logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        family.copy_state(self.model.vaes[self.k], self.member)
        self._each("on_epoch_end", epoch, logs=logs)

    def on_train_end(self, logs=None):
        self._each("on_train_end", logs=logs)


def member_logs(fam, k, logs):
    """Member k's metrics under a single model's names (loss, recon, kl, mse, elbo, val_*)."""
    label, beta = fam.labels[k], fam.members[k]["beta"]
    row = {}
    for prefix in ("", "val_"):
        values = {name: logs.get(f"{prefix}{name}/{label}") for name in family._METRICS}
        if values["recon"] is None:
            continue
        row.update({f"{prefix}{name}": float(v) for name, v in values.items()})
        row[f"{prefix}loss"] = float(values["recon"] + beta * values["kl"])
    return row


class TimeLimit(keras.callbacks.Callback):
    """Stops at the end of the last epoch that the time limit leaves room for.

    The clock starts at `start` (a `time.perf_counter()` reading; default: when
    training begins). An epoch that has begun always ends: the members are saved
    at epoch ends only.
    """

    def __init__(self, seconds, start=None):
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"time_limit must be > 0 seconds (None: no limit), got {seconds}.")
        self.seconds, self.start = seconds, start

    def on_train_begin(self, logs=None):
        if self.start is None:
            self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        if now - self.start + (now - self.epoch_start) > self.seconds:
            self.model.stop_training = True


def train_family(configs, outdirs, family_dir, time_limit=None, data_order="auto",
                 retrain=False):
    """Trains the members' runs as one family; returns each member's test metrics.

    Args:
        configs: one `training.TrainConfig` per member (see `shared_config`).
        outdirs: each member's run folder.
        family_dir: the family's own folder (backup, history, logs).
        time_limit: seconds; stop after the last epoch that fits (None: all epochs).
        data_order: "shared" (every member the first member's order), "own"
            (each its seed's) or "auto" ("shared" when all seeds are equal).
        retrain: move the folders of members that finished already aside to
            `<outdir>.previous-<time>` (as `training.train_and_evaluate` does) and
            train them anew with the others.

    Returns:
        dict with "metrics" (per member, the test metrics under a single
        model's names), "epochs_done", "wall_seconds" and "finished".
    """
    start = time.perf_counter()
    config = shared_config(configs)
    extra = [] if time_limit is None else [TimeLimit(time_limit, start)]
    if len(outdirs) != len(configs):
        raise ValueError(f"Got {len(configs)} configs but {len(outdirs)} run folders.")
    if data_order not in DATA_ORDERS:
        raise ValueError(f"data_order must be one of {DATA_ORDERS}, got {data_order!r}.")
    if data_order == "auto":
        data_order = "shared" if len({c.seed for c in configs}) == 1 else "own"
    member_paths = [training.run_paths(d) for d in outdirs]
    for member in member_paths:
        if os.path.exists(member.metrics):
            if not retrain:
                raise ValueError(f"{member.outdir} holds a finished run; pass retrain=True to "
                                 "train it again (its folder is kept beside).")
            training._set_aside(member.outdir)
    for d in list(outdirs) + [family_dir]:
        os.makedirs(d, exist_ok=True)
    paths = training.run_paths(family_dir)
    if not os.path.exists(paths.backup):  # A fresh start: earlier partial files step aside.
        _set_aside_partial_files(member_paths)
    if config.num_processes > 1:  # Before any JAX computation.
        distribution.initialize_jax_processes(
            config.coordinator_address, config.num_processes, config.process_id)

    x_train, x_test = training.load_images(config)
    model, replicas = training.compiled_model(config, lambda: build(configs))
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    fixed = replicas > 1
    if data_order == "own":
        train = data.make_family_dataset(x_train, config.batch_size, [c.seed for c in configs],
                                         drop_remainder=fixed, epoch=epoch)
    else:
        train = data.make_dataset(x_train, config.batch_size, seed=config.seed, epoch=epoch,
                                  drop_remainder=fixed)
    test = training.test_dataset(x_test, replicas)
    members = [MemberCallbacks(k, training.model_callbacks(c, p, x_test))
               for k, (c, p) in enumerate(zip(configs, member_paths))]
    history = model.fit(
        train, epochs=config.epochs, validation_data=test, shuffle=False, verbose=config.verbose,
        # The backup is kept when a time limit stops the run; _finish removes it once every
        # epoch is done.
        callbacks=training.loop_callbacks(config, paths, epoch, keep_backup=True) + [
            keras.callbacks.CSVLogger(paths.history, append=True),
            keras.callbacks.TensorBoard(paths.logs, update_freq="epoch"),
        ] + members + extra)
    if training.diverged(history):
        # The backup holds the diverged weights now: a rerun must not restore them.
        shutil.rmtree(paths.backup, ignore_errors=True)
        raise FloatingPointError(
            "Training diverged: the loss became NaN or infinite. Each member's last.keras holds "
            "its last epoch with a finite loss; try a lower --learning_rate.")
    # fit runs no epoch when the backup had them all (a rerun after a kill at the end).
    epochs_done = history.epoch[-1] + 1 if history.epoch else config.epochs
    result = _finish(model, test, configs, member_paths, epochs_done, start)
    if result["finished"]:
        shutil.rmtree(paths.backup, ignore_errors=True)
    return result


def _set_aside_partial_files(member_paths):
    """Renames a member's history and partial metrics left by an earlier, abandoned family."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for paths in member_paths:
        for path in (paths.history, partial_metrics_path(paths)):
            if os.path.exists(path):
                os.rename(path, f"{path}.previous-{stamp}")


def _finish(model, test, configs, member_paths, epochs_done, start):
    """Evaluates and saves every member; metrics.json where a member has all its epochs."""
    logs = model.evaluate(test, verbose=0, return_dict=True)
    wall = time.perf_counter() - start
    finished = epochs_done >= configs[0].epochs
    metrics = []
    for k, (config, paths) in enumerate(zip(configs, member_paths)):
        row = member_logs(model, k, logs)
        metrics.append(row)  # last.keras holds the final weights already (model_callbacks).
        report = {"test": row, "config": dataclasses.asdict(config),
                  "wall_seconds": wall / len(configs), "family_wall_seconds": wall,
                  "family_members": len(configs), "epochs_done": epochs_done}
        # metrics.json marks a finished run; a partial one says so in another file.
        training.write_json_atomically(
            paths.metrics if finished else partial_metrics_path(paths), report)
        if finished and os.path.exists(partial_metrics_path(paths)):
            os.remove(partial_metrics_path(paths))
    return dict(metrics=metrics, epochs_done=epochs_done, wall_seconds=wall, finished=finished)


def partial_metrics_path(paths):
    """Where an unfinished member's test metrics go (metrics.json marks a finished run)."""
    return os.path.join(paths.outdir, "metrics_partial.json")


