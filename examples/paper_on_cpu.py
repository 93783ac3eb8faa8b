r"""Tables 1-4 on the paper's own schedule on a CPU, across sessions (issue 19).

    python examples/paper_on_cpu.py --root=$HOME/paper_runs --workers=2 \
        --data=../shared/data/mnist.npz --report_dir=docs/scaling_laws

Starts --workers pinned single-threaded JAX trainers (one per core) that take
the 18 models in `paper_on_cpu.ORDER` (the endpoints first) and train each
with Section 5's schedule into <root>/paper/; the same command in a later
session resumes an unfinished model from its last epoch. Models already archived in
--report_dir are not trained again, so a session on a new machine (an empty --root)
goes on with the ones still missing. When the workers
stop (every model done, or the session ends and the command is rerun with
--archive_only), the finished models are copied into <report_dir>/paper/ and
scaling_{gaussian,laplace}_paper.{md,json,png} are made from them.
"""

import os
import sys

from absl import app
from absl import flags

from keras_svae import training
from keras_svae.experiments import paper_on_cpu

flags.DEFINE_string("root", None, "Run folders live in <root>/paper/ (keep it outside the "
                    "work tree: a later session resumes from it).", required=True)
flags.DEFINE_integer("workers", 2, "Pinned trainers, one per core.")
flags.DEFINE_string("report_dir", None, "Where the finished models and the reports go.")
flags.DEFINE_string("code", None, "The package version (commit) that trained the models, "
                    "recorded with those archived for the first time (a record keeps its own).")
flags.DEFINE_string("note", None, "Anything else a first-time archived record should say.")
flags.DEFINE_bool("archive_only", False, "Archive and report what finished; train nothing.")
# TrainConfig's own flags; a smaller --train_size or --epochs is a quick check, never archived.
training.define_flags(flags.FLAGS, ("data", "train_size", "epochs"), {
    "train_size": (0, "A quick check: such models are never archived as the paper's."),
    "epochs": (None, "Default: the paper's 100; fewer is a quick check, never archived.")})
flags.DEFINE_bool("worker", False, "Internal: be one trainer.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    overrides = dict(data=FLAGS.data, verbose=2, train_size=FLAGS.train_size)
    if FLAGS.epochs is not None:
        overrides["epochs"] = FLAGS.epochs
    if FLAGS.worker:
        paper_on_cpu.worker(FLAGS.root, docs_dir=FLAGS.report_dir, **overrides)
        return
    if not FLAGS.archive_only:
        command = [sys.executable, os.path.abspath(__file__), "--worker", f"--root={FLAGS.root}",
                   f"--train_size={FLAGS.train_size}"] + (
            [f"--data={FLAGS.data}"] if FLAGS.data else []) + (
            [f"--epochs={FLAGS.epochs}"] if FLAGS.epochs is not None else []) + (
            [f"--report_dir={FLAGS.report_dir}"] if FLAGS.report_dir else [])
        codes = paper_on_cpu.launch(command, FLAGS.root, FLAGS.workers)
        if any(codes):
            raise SystemExit(f"A worker failed (exit codes {codes}); see {FLAGS.root}/paper/logs.")
    if FLAGS.report_dir:
        names = paper_on_cpu.archive(FLAGS.root, FLAGS.report_dir, device=_cpu(),
                                     code=FLAGS.code, note=FLAGS.note)
        print(f"archived: {names}")
        print(paper_on_cpu.write_reports(FLAGS.report_dir))


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "CPU"
    return f"{model}, {os.cpu_count()} cores (CPU only)"


if __name__ == "__main__":
    app.run(main)
