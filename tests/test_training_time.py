"""A run's training time across resumes, read back from its TensorBoard event files."""

import pytest

from conftest import write_process
from keras_svae import training_time


def test_the_time_adds_up_over_processes_and_leaves_out_lost_work(tmp_path):
    logs = str(tmp_path)
    write_process(logs, 1, 1000.0, [(0, 1100.0), (1, 1250.0)])
    # The first was killed after logging epoch 1 but before backing it up: the second
    # resumed at epoch 1 and logged it again.
    write_process(logs, 2, 5000.0, [(1, 5090.0), (2, 5190.0), (3, 5300.0)])
    write_process(logs, 3, 9000.0)                                      # Killed in its first epoch.
    write_process(logs, 2, 5001.0, [(100, 5002.0)], tag="step_loss")    # Step scalars' writer.
    clock = training_time.from_logs(logs)
    assert clock["seconds"] == pytest.approx(250.0 + 300.0)
    assert clock["processes"] == 2 and clock["epochs"] == 4
    # Epoch times 100, 150 | 90, 100, 110: each process's first from its start.
    assert clock["median_epoch_seconds"] == pytest.approx(100.0)


def test_logs_without_a_finished_epoch_are_refused(tmp_path):
    write_process(str(tmp_path), 1, 1000.0)
    with pytest.raises(FileNotFoundError, match="No finished epoch"):
        training_time.from_logs(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="No finished epoch"):
        training_time.from_logs(str(tmp_path / "missing"))
