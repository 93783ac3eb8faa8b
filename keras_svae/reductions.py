"""Per-example reductions: one value per example of a batch."""

from keras import ops


def sum_per_example(values):
    """Sums every axis but the first (the batch axis): shape (batch,)."""
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)
