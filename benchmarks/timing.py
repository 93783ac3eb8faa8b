"""Helpers shared by the benchmarks: the best of repeated runs, the matmul peak, a
measurement in a process of its own, and the report files."""

import json
import os
import subprocess
import sys
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


def in_process(script, backend, spec, pythonpath=None):
    """Runs `script --worker=<spec as JSON>` in a fresh process on `backend`; its last line's JSON.

    pythonpath: a source tree put first on the path (to measure another version).
    Returns {"error": ...} when the process fails.
    """
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, script, f"--worker={json.dumps(spec)}"],
                            capture_output=True, text=True, env=env)
    if result.returncode:
        return dict(error=result.stderr.strip().splitlines()[-1][:200])
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_report(out, title, script, table, record):
    """<out> (markdown: title, the command that made it, the table) and <out>.json (`record`)."""
    with open(out, "w") as f:
        f.write(f"# {title}\n\nMade by `python benchmarks/{os.path.basename(script)} "
                f"{' '.join(sys.argv[1:])}` on this 2-core CPU.\n\n{table}")
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(record, f, indent=2)
