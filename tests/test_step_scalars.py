"""`callbacks.StepScalars`: a write every `every` optimizer steps, whatever steps_per_execution.

With steps_per_execution = k Keras calls `on_train_batch_end` once per k
steps, with the last step's index in the epoch; the callback must still
write at (the first call past) every multiple of `every`, at the true step.
"""

import types

import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from keras_svae import callbacks


def written_steps(logdir):
    accumulator = event_accumulator.EventAccumulator(str(logdir))
    accumulator.Reload()
    return [event.step for event in accumulator.Tensors("step_loss")]  # tf.summary writes tensors.


def run(logdir, every, steps_per_call, epochs, steps_per_epoch, start=0):
    """Drives the callback as Keras's fit loop would; returns the steps written."""
    iterations = tf.Variable(start, dtype=tf.int64)
    callback = callbacks.StepScalars(str(logdir), every=every)
    callback.set_model(types.SimpleNamespace(optimizer=types.SimpleNamespace(
        iterations=iterations)))
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch)
        first = start + epoch * steps_per_epoch
        for end in range(steps_per_call - 1, steps_per_epoch + steps_per_call - 1, steps_per_call):
            end = min(end, steps_per_epoch - 1)  # The last call of an epoch may be short.
            iterations.assign(first + end + 1)
            callback.on_train_batch_end(end, {"loss": 1.0})
    callback.on_train_end()
    return written_steps(logdir)


@pytest.mark.parametrize("steps_per_call, expected", [
    (1, [4, 8, 12, 16, 20]),        # Every step: exactly the multiples of 4.
    (3, [6, 9, 13, 16, 20]),        # Calls end at steps 3, 6, 9, 10 | 13, 16, 19, 20.
    (100, [10, 20]),                # One call per epoch.
])
def test_writes_once_per_multiple_at_the_true_step(tmp_path, steps_per_call, expected):
    # Two epochs of 10 steps.
    assert run(tmp_path, 4, steps_per_call, 2, 10) == expected


def test_a_resumed_run_counts_from_the_optimizer(tmp_path):
    # Resumed after 10 steps: the next writes are at 12, 16, 20, not 2, 6, ...
    assert run(tmp_path, 4, 1, 1, 10, start=10) == [12, 16, 20]
