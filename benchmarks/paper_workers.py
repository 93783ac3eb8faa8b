r"""How to spend two CPU cores on the paper's schedule (batch 16): one trainer or two?

    python benchmarks/paper_workers.py --out=docs/paper_workers.md

Every layout trains sigma-VAEs through the package's run path (`runs.config_for`
with the "paper" schedule, `training.compiled_model`, `data.make_dataset` with the
epoch-seeded order, and the run's own callbacks: checkpoints, TensorBoard, the
image grids), in processes of its own, side by side where the layout has two:

* one process on both cores, per backend;
* two processes, each pinned to one core (`taskset -c N`), with XLA's and
  TensorFlow's thread pools at one thread.

A layout's figure is member-images per second summed over its processes, timed
over the middle of an epoch (steps --skip to --skip + --steps), so compiling and
the epoch-end work (test metrics, checkpoints) are left out; `epoch_end_s` is
that epoch-end work, timed on its own. All layouts run one after the other in
this one invocation, so their ratios are fair.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from keras_svae.experiments import paper_on_cpu

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The thread settings of the pinned trainers themselves (their backend is the layout's).
PINNED_ENV = {k: v for k, v in paper_on_cpu.PINNED_ENV.items() if k != "KERAS_BACKEND"}
LAYOUTS = {  # name: (backend, one process pinned per core?, number of processes)
    "tensorflow_one": ("tensorflow", False, 1),
    "jax_one": ("jax", False, 1),
    "tensorflow_two_pinned": ("tensorflow", True, 2),
    "jax_two_pinned": ("jax", True, 2),
}

flags.DEFINE_list("layouts", list(LAYOUTS), "Layouts to measure.")
flags.DEFINE_integer("skip", 150, "Steps before the timing starts (compiling, warm-up).")
flags.DEFINE_integer("steps", 600, "Timed steps.")
flags.DEFINE_integer("steps_per_execution", 0, "Steps per compiled call (0: the package's "
                     "fastest per backend, `training.FASTEST`).")
flags.DEFINE_string("data", None, "Keras-layout mnist.npz (default $KERAS_SVAE_MNIST, then "
                    "../shared/data/mnist.npz).")
flags.DEFINE_string("out", None, "Write the report (markdown, + .json) here.")
flags.DEFINE_bool("worker", False, "Internal: one trainer's measurement, as JSON.")
FLAGS = flags.FLAGS


def measure_one():
    """One trainer: (images/s over the timed steps, seconds of the epoch-end work)."""
    import keras

    from keras_svae import data
    from keras_svae import training
    from keras_svae.experiments import runs

    import tensorflow as tf

    steps = FLAGS.skip + FLAGS.steps
    config = runs.config_for("sigma_vae", 0.9, "paper", data=FLAGS.data, train_size=16 * steps,
                             test_size=10000, epochs=1, verbose=0,
                             steps_per_execution=FLAGS.steps_per_execution)

    class Clock(keras.callbacks.Callback):
        """(steps done, time) at each batch end Keras reports (every steps_per_execution)."""

        marks = []

        def on_train_batch_end(self, batch, logs=None):
            self.marks.append((batch + 1, time.perf_counter()))

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_end_start = time.perf_counter()

        def on_train_end(self, logs=None):
            self.epoch_end = time.perf_counter() - self.epoch_end_start

        def rate(self):
            first = next(m for m in self.marks if m[0] >= FLAGS.skip)
            last = self.marks[-1]
            return 16 * (last[0] - first[0]) / (last[1] - first[1])

    x_train, x_test = training.load_images(config)
    model, replicas = training.compiled_model(config, lambda: training.build_model(config))
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    train = data.make_dataset(x_train, config.batch_size, seed=0, epoch=epoch)
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        paths = training.run_paths(folder)
        # The run's callbacks (training._callbacks), then the clock: its epoch-end time
        # then counts the validation that fit runs before the callbacks.
        model.fit(train, epochs=1, validation_data=training.test_dataset(x_test, replicas),
                  callbacks=[clock] + training._callbacks(config, paths, epoch, x_test),
                  verbose=0)
    return clock.rate(), clock.epoch_end


def measure_layout(name):
    backend, pinned, processes = LAYOUTS[name]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if pinned:
        env.update(PINNED_ENV)
    args = [sys.executable, os.path.abspath(__file__), "--worker", f"--skip={FLAGS.skip}",
            f"--steps={FLAGS.steps}", f"--steps_per_execution={FLAGS.steps_per_execution}"] + ([f"--data={FLAGS.data}"] if FLAGS.data else [])
    workers = [subprocess.Popen((["taskset", "-c", str(core)] if pinned else []) + args,
                                env=env, stdout=subprocess.PIPE, text=True)
               for core in range(processes)]
    results = [json.loads(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
    if any(w.returncode for w in workers):
        raise RuntimeError(f"A worker of {name!r} failed.")
    return dict(layout=name, backend=backend, processes=processes,
                images_per_second=[r["images_per_second"] for r in results],
                total=sum(r["images_per_second"] for r in results),
                epoch_end_s=max(r["epoch_end_s"] for r in results))


def report(rows):
    best = max(row["total"] for row in rows)
    lines = ["| layout | images/s per process | total images/s | vs the best | epoch-end work (s) |",
             "|---|---|---|---|---|"]
    for row in rows:
        each = " + ".join(f"{r:,.0f}" for r in row["images_per_second"])
        lines.append(f"| {row['layout']} | {each} | {row['total']:,.0f} | "
                     f"{row['total'] / best:.2f} | {row['epoch_end_s']:.1f} |")
    hours = 18 * 100 * 60000 / best / 3600
    lines += ["", f"At the best layout, 18 models x 100 epochs x 60,000 images take about "
              f"{hours:.1f} hours of this machine (epoch-end work not counted)."]
    return "\n".join(lines)


def main(argv):
    del argv
    if FLAGS.worker:
        rate, epoch_end = measure_one()
        print(json.dumps(dict(images_per_second=rate, epoch_end_s=epoch_end)))
        return
    unknown = set(FLAGS.layouts) - set(LAYOUTS)
    if unknown:
        raise app.UsageError(f"Unknown layouts {sorted(unknown)}; choose from {list(LAYOUTS)}.")
    rows = []
    for name in FLAGS.layouts:
        rows.append(measure_layout(name))
        print(json.dumps(rows[-1]), flush=True)
    text = "# Two cores on the paper's schedule\n\nMade by `python benchmarks/paper_workers.py " \
           f"--skip={FLAGS.skip} --steps={FLAGS.steps}`.\n\n" + report(rows) + "\n"
    print(text)
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            f.write(text)
        with open(os.path.splitext(FLAGS.out)[0] + ".json", "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    app.run(main)
