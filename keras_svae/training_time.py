"""How long a run trained, read back from its TensorBoard logs, across every resume.

A run killed with its session resumes in a later process (`BackupAndRestore`),
so the wall time of the last `training.train_and_evaluate` call is only that
process's share. Every process that trains a run writes its own event file
under <run>/logs/train, with one "epoch_loss" event per finished epoch (Keras's
TensorBoard callback). A process's training time is from its file's first
event (the writer opens at the start of training) to its last finished epoch;
the run's is their sum. Time after a process's last finished epoch (work a kill
threw away) and processes that finished no epoch are not counted; nor are the
epochs a killed process had not yet flushed to its file (the writer flushes
every two minutes and when training ends). Time a
process stood still while alive (paused, or waiting for a shared core) is, so
the median epoch is given beside the total: it is what a pause leaves alone.
"""

import glob
import os
import statistics

from tensorboard.backend.event_processing import event_file_loader

EPOCH_TAG = "epoch_loss"


def _process_times(path):
    """(start, [wall time of each finished epoch's event]) of one event file."""
    start, epochs = None, []
    for event in event_file_loader.EventFileLoader(path).Load():
        start = event.wall_time if start is None else start
        if any(value.tag == EPOCH_TAG for value in event.summary.value):
            epochs.append((event.step, event.wall_time))
    return start, epochs


def from_logs(log_dir):
    """The training time recorded in a run's TensorBoard folder (<run>/logs).

    Returns dict(seconds: the sum over processes, processes: how many finished an
    epoch, epochs: the distinct epochs logged, median_epoch_seconds: the median
    of each epoch's time from the previous one's end, or from its process's
    start for its first). Raises FileNotFoundError when no process has logged a
    finished epoch there.
    """
    seconds, durations, steps, processes = 0.0, [], set(), 0
    for path in sorted(glob.glob(os.path.join(str(log_dir), "train", "events.out.tfevents.*"))):
        start, epochs = _process_times(path)
        if not epochs:
            continue  # Step scalars only, or a process killed in its first epoch.
        processes += 1
        ends = [start] + [t for _, t in epochs]
        durations += [b - a for a, b in zip(ends, ends[1:])]
        seconds += ends[-1] - start
        steps.update(step for step, _ in epochs)
    if not processes:
        raise FileNotFoundError(f"No finished epoch is logged under {log_dir}/train.")
    return dict(seconds=seconds, processes=processes, epochs=len(steps),
                median_epoch_seconds=statistics.median(durations))
