r"""The paper's schedule for all 18 models of Tables 1-4, on one GPU, within a time budget.

    python examples/paper_on_gpu.py --data=/path/to/mnist.npz --root=runs \
        --report_dir=docs/scaling_laws --minutes=10

1. Probes: steps per second of a 1-member and an 18-member family at the
   schedule's batch size, and the projected wall time of the whole schedule
   (written to <report_dir>/paper_probe_<schedule>.json).
2. Trains the nine sigma-VAEs and nine alpha-VAEs (100 epochs, batch 16,
   Adam 1e-4) as one `SigmaVAEFamily` until --minutes are nearly spent,
   saving every member's run folder every epoch; the same command again
   resumes where it stopped.
3. Writes scaling_{gaussian,laplace}_<schedule>.{md,json,png}: the tables
   beside the paper's, naming the device and the epochs actually done.

Runs anywhere (a CPU too, slowly); for a check at a tiny size:
--scales=0.1,0.5,0.9 --train_size=64 --test_size=32 --epochs=2 --probe_steps=3.
"""

import json
import time

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_svae.experiments import cli  # noqa: E402
from keras_svae.experiments import paper  # noqa: E402
from keras_svae.experiments import paper_schedule  # noqa: E402

cli.define_model_flags()
flags.FLAGS.set_default("schedule", "paper")
flags.DEFINE_list("scales", [f"{s:g}" for s in paper.SCALES], "The sigmas and alphas.")
flags.DEFINE_float("minutes", 0, "Time budget of this command, probe included (0: no limit).")
flags.DEFINE_integer("probe_steps", 200, "Timed steps per probe (0: no probe).")
flags.DEFINE_integer("reserve_seconds", 60, "Of --minutes, kept for evaluation and the reports.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    start = time.perf_counter()
    overrides = cli.training_overrides(FLAGS)
    scales = [float(s) for s in FLAGS.scales]
    report_dir = cli.report_dir(FLAGS)
    if FLAGS.probe_steps:
        result = paper_schedule.probe(FLAGS.schedule, FLAGS.probe_steps, scales, **overrides)
        print(json.dumps(result, indent=2))
        print(f"Projected: {result['projected_hours']:.2f} h for all {result['members']} models "
              f"as one family on {result['device']} "
              f"({result['projected_hours_sequential']:.2f} h one after another).", flush=True)
        paper_schedule.write_probe(result, f"{report_dir}/paper_probe_{FLAGS.schedule}.json")
    time_limit = None
    if FLAGS.minutes:
        time_limit = FLAGS.minutes * 60 - (time.perf_counter() - start) - FLAGS.reserve_seconds
        if time_limit <= 0:
            raise app.UsageError(f"--minutes={FLAGS.minutes} leaves no time to train.")
    tables = paper_schedule.run(FLAGS.root, report_dir, FLAGS.schedule, time_limit, scales,
                                **overrides)
    for table in tables.values():
        print(table)


if __name__ == "__main__":
    app.run(main)
