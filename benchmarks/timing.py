"""Timing helpers shared by the benchmarks: the best of repeated runs, the matmul peak."""

import time


def best_rate(run, items, repeats):
    """items / the shortest of `repeats` timings of `run()` (items per second)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return items / best


def matmul_gflops(square, repeats=10):
    """GFLOP/s of `square @ square` (a NumPy array or torch tensor), best of `repeats`."""
    size = square.shape[0]
    return best_rate(lambda: square @ square, 2 * size**3, repeats) / 1e9


def fit_rate(model, dataset, items, repeats, steps_per_execution):
    """(items per second of `model.fit` over `dataset`, seconds of the compiling warm-up).

    The warm-up fits a few steps (which compiles); then the best of `repeats` epochs.
    """
    start = time.perf_counter()
    model.fit(dataset.take(2 * steps_per_execution + 2), epochs=1, verbose=0)
    compile_seconds = time.perf_counter() - start
    rate = best_rate(lambda: model.fit(dataset, epochs=1, verbose=0), items, repeats)
    return rate, compile_seconds
